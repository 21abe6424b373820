using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace Portico.ServiceDefaults.RequestBodies;

/// <summary>
/// JSON request bodies bound by minimal APIs and checked by .NET's validation (<c>AddValidation()</c>, DataAnnotations
/// on the request records), answered as problem+json whose <c>errors</c> name each faulty field by its JSON path
/// (<c>items[0].quantity</c>) and whose <c>detail</c> lists them. The one piece each service that takes JSON bodies
/// shares, so a bad body gets the same answer from every one.
/// </summary>
public static class JsonRequestBodies
{
    /// <summary>The key under which faults of the body as a whole are reported.</summary>
    public const string BodyField = "body";

    private const int MaxReportedNameLength = 64;

    /// <summary>
    /// Makes minimal-API JSON binding strict (an unknown or repeated field and a number sent as a string are faults) and
    /// answers its faults as described on <see cref="JsonRequestBodies"/>. The service still calls
    /// <c>AddValidation()</c> itself: its source generator registers the service's own request types at that call.
    /// </summary>
    public static IServiceCollection AddJsonRequestBodies(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.Configure<JsonOptions>(o =>
        {
            o.SerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
            o.SerializerOptions.AllowDuplicateProperties = false;
            o.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
        });
        // Binding failures become exceptions, so that the JSON path of the fault reaches JsonBodyExceptionHandler;
        // otherwise minimal APIs answer them with a bare 400 and only log why.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.Configure<ExceptionHandlerOptions>(o =>
            o.StatusCodeSelector ??= e => e is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError);
        services.AddProblemDetails();
        services.AddExceptionHandler<JsonBodyExceptionHandler>();
        services.AddOptions<ProblemDetailsOptions>().PostConfigure<IOptions<JsonOptions>>((options, json) =>
        {
            var customize = options.CustomizeProblemDetails;
            var naming = json.Value.SerializerOptions.PropertyNamingPolicy;
            options.CustomizeProblemDetails = context =>
            {
                customize?.Invoke(context);
                // The validation filter's answer: keys as C# paths (Items[0].Quantity) and no detail. Answers written
                // by the services themselves carry a detail and are left as they are.
                if (context.ProblemDetails is HttpValidationProblemDetails { Detail: null } problem)
                {
                    var errors = problem.Errors.ToList();
                    problem.Errors.Clear();
                    foreach (var (key, messages) in errors)
                    {
                        problem.Errors[naming is null ? key : string.Join('.', key.Split('.').Select(naming.ConvertName))] = messages;
                    }
                    problem.Detail = DetailOf(problem.Errors.Keys);
                }
            };
        });
        return services;
    }

    /// <summary>The answer to an empty body or a JSON <c>null</c> (binding gives the handler null; validation skips it).</summary>
    public static IResult Missing(string expected) => Invalid(new() { [BodyField] = [$"The body must be {expected}, not empty or null."] });

    internal static IResult Invalid(Dictionary<string, string[]> errors) => TypedResults.ValidationProblem(errors, DetailOf(errors.Keys));

    internal static string DetailOf(IEnumerable<string> fields) => $"Invalid field(s): {string.Join(", ", fields)}.";

    /// <summary>
    /// The field a deserialization fault is about and what is wrong with it, from the fault's JSON path walked through
    /// the serializer's own metadata of <paramref name="root"/> (the endpoint's body type).
    /// </summary>
    internal static (string Field, string Message) Describe(JsonException fault, JsonTypeInfo? root)
    {
        var position = fault.LineNumber is { } line && fault.BytePositionInLine is { } column ? $" (line {line + 1}, byte {column + 1})" : "";
        // A syntax fault is the reader's own exception wrapped; STJ says a repeated field only in its message.
        if (root is null || fault.InnerException is JsonException || fault.Message.StartsWith("Duplicate property", StringComparison.Ordinal))
        {
            return (BodyField, $"The body is not valid JSON{position}: one object, each field at most once.");
        }
        var field = "";
        var type = root;
        foreach (var segment in Segments(fault.Path))
        {
            if (segment is int index)
            {
                if (type.ElementType is null)
                {
                    break;
                }
                field += $"[{index}]";
                type = type.Options.GetTypeInfo(type.ElementType);
                continue;
            }
            var name = (string)segment;
            var comparison = type.Options.PropertyNameCaseInsensitive ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
            if (type.Properties.FirstOrDefault(p => string.Equals(p.Name, name, comparison)) is not { } property)
            {
                var unknown = Truncate(field.Length == 0 ? name : $"{field}.{name}");
                return (unknown, $"{unknown} is not a known field; expected {string.Join(", ", type.Properties.Select(p => p.Name))}.");
            }
            field = field.Length == 0 ? property.Name : $"{field}.{property.Name}";
            type = type.Options.GetTypeInfo(property.PropertyType);
        }
        return field.Length == 0
            ? (BodyField, $"The body must be {Expected(type)}{position}.")
            : (field, $"{field} must be {Expected(type)}{position}.");
    }

    /// <summary>The names and indexes of a System.Text.Json path: <c>$.items[0]['a.b']</c> gives items, 0, a.b.</summary>
    private static IEnumerable<object> Segments(string? path)
    {
        var i = 1; // past the '$'
        while (path is not null && i < path.Length)
        {
            if (path[i] == '.')
            {
                var end = path.IndexOfAny(['.', '['], i + 1);
                end = end < 0 ? path.Length : end;
                yield return path[(i + 1)..end];
                i = end;
            }
            else if (path.AsSpan(i).StartsWith("['") && path.IndexOf("']", i + 2, StringComparison.Ordinal) is var close and > 0)
            {
                yield return path[(i + 2)..close];
                i = close + 2;
            }
            else if (path[i] == '[' && path.IndexOf(']', i) is var bracket and > 0 && int.TryParse(path.AsSpan(i + 1, bracket - i - 1), out var index))
            {
                yield return index;
                i = bracket + 1;
            }
            else
            {
                yield break;
            }
        }
    }

    private static string Expected(JsonTypeInfo type) => type.Kind switch
    {
        JsonTypeInfoKind.Object => $"an object with {string.Join(", ", type.Properties.Select(p => p.Name))}",
        JsonTypeInfoKind.Enumerable => "an array",
        JsonTypeInfoKind.Dictionary => "an object",
        _ => (Nullable.GetUnderlyingType(type.Type) ?? type.Type) switch
        {
            var t when t == typeof(string) => "text",
            var t when t == typeof(bool) => "true or false",
            var t when t.IsPrimitive || t == typeof(decimal) => "a number",
            _ => "a value of another kind",
        },
    };

    private static string Truncate(string name) => name.Length <= MaxReportedNameLength ? name : name[..MaxReportedNameLength] + "…";
}

/// <summary>
/// Answers a request that binding rejected: a JSON fault as a validation problem naming the field, a body over the
/// endpoint's <c>[RequestSizeLimit]</c> as 413, a body that is not JSON as 415, anything else with its own status.
/// </summary>
internal sealed class JsonBodyExceptionHandler(IProblemDetailsService problemDetails, IOptions<JsonOptions> json) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad)
        {
            return false;
        }
        // The middleware has cleared the request's endpoint by now; its feature keeps the one that failed.
        var metadata = (httpContext.Features.Get<IExceptionHandlerFeature>()?.Endpoint ?? httpContext.GetEndpoint())?.Metadata;
        var status = bad.InnerException is JsonException ? StatusCodes.Status400BadRequest : bad.StatusCode;
        ProblemDetails problem;
        if (bad.InnerException is JsonException fault)
        {
            var bodyType = metadata?.GetMetadata<IAcceptsMetadata>()?.RequestType;
            var (field, message) = JsonRequestBodies.Describe(fault, bodyType is null ? null : json.Value.SerializerOptions.GetTypeInfo(bodyType));
            problem = new HttpValidationProblemDetails(new Dictionary<string, string[]> { [field] = [message] })
            {
                Status = status,
                Detail = JsonRequestBodies.DetailOf([field]),
            };
        }
        else
        {
            problem = new ProblemDetails
            {
                Status = status,
                Detail = status switch
                {
                    StatusCodes.Status413PayloadTooLarge when metadata?.GetMetadata<IRequestSizeLimitMetadata>()?.MaxRequestBodySize is { } limit =>
                        $"The request body must be at most {limit} bytes.",
                    StatusCodes.Status415UnsupportedMediaType => "The request body must be JSON, sent with Content-Type: application/json.",
                    _ => null,
                },
            };
        }
        httpContext.Response.StatusCode = status;
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }
}
