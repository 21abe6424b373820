using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Portico.Catalog.Apis;

/// <summary><c>Catalog:Caching</c>: how long shared caches (the gateway) may keep product answers.</summary>
public sealed record ProductCachingOptions
{
    public const string SectionName = "Catalog:Caching";

    /// <summary>Sent as <c>Cache-Control: public, max-age</c> on product answers.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Makes product answers cacheable the standard way (RFC 9111): <c>Cache-Control: public, max-age</c> and a strong
/// <c>ETag</c> over the JSON body, and a 304 without the body when the caller's <c>If-None-Match</c> names it
/// (RFC 9110 §13.1.2), so the gateway revalidates an expired entry for the price of a head.
/// </summary>
internal sealed class ProductCaching(IOptions<ProductCachingOptions> options, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var result = await next(context);
        var answer = result is INestedHttpResult nested ? nested.Result : result; // Results<Ok<T>, …> wraps the one it chose
        if (answer is not IValueHttpResult { Value: { } value } || answer is not IStatusCodeHttpResult { StatusCode: StatusCodes.Status200OK })
        {
            return result; // problems and validation errors go out as they are, uncached
        }
        var (body, etag) = Represent(value);
        var http = context.HttpContext;
        var headers = http.Response.Headers;
        headers.CacheControl = "public, max-age=" + ((long)options.Value.MaxAge.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        headers.ETag = etag.ToString();
        if (EntityTagHeaderValue.TryParseList(http.Request.Headers.IfNoneMatch, out var tags)
            && tags.Any(t => t.Equals(EntityTagHeaderValue.Any) || t.Compare(etag, useStrongComparison: false)))
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }
        return Results.Bytes(body, "application/json; charset=utf-8");
    }

    /// <summary>The strong ETag of <paramref name="value"/> as a GET would answer it: what <c>If-Match</c> on a write is compared with.</summary>
    public EntityTagHeaderValue ETagOf(object value) => Represent(value).ETag;

    private (byte[] Body, EntityTagHeaderValue ETag) Represent(object value)
    {
        // A hash of the very bytes sent, so the tag changes exactly when the answer does (a product edited, stock moved).
        var body = JsonSerializer.SerializeToUtf8Bytes(value, value.GetType(), json.Value.SerializerOptions);
        return (body, new EntityTagHeaderValue("\"" + Base64Url(SHA256.HashData(body)) + "\""));
    }

    private static string Base64Url(byte[] hash) => Convert.ToBase64String(hash, 0, 16).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
