using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using Portico.Gateway.Configuration;
using Portico.Gateway.Routing;
using Portico.Gateway.Security;

namespace Portico.Gateway.Transcoding;

/// <summary>
/// REST in front of gRPC: one endpoint per transcoded route, rebuilt when a new gateway file is accepted or a service's
/// descriptors arrive or change. The request message is made from the JSON body (the whole of it, or one field), then
/// the path variables and query parameters (later ones win, as protobuf merging has it); the reply goes back as JSON,
/// a server stream as newline-delimited JSON (or an array), a gRPC error as problem+json with the matching HTTP status
/// (the service's field violations under <c>errors</c>). A service whose descriptors have not come yet answers 503 under
/// its <c>PathPrefix</c> and convention routes. Authorization is a route's: none means a signed-in user, <c>anonymous</c> opens it.
/// </summary>
internal sealed partial class TranscodingEndpointDataSource(GatewayConfigProvider config, GrpcDescriptors descriptors, GrpcCaller caller,
    ILogger<TranscodingEndpointDataSource> logger) : EndpointDataSource
{
    private const int MaxBodyBytes = 64 * 1024;

    /// <summary>The deadline of a transcoded call (its <c>grpc-timeout</c>) when the service entry names none; the cluster's resilience policy may end it sooner.</summary>
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private static readonly byte[] NewLine = "\n"u8.ToArray();

    private readonly Lock _lock = new();
    private (TranscodingSettings? Settings, IReadOnlyDictionary<string, GrpcService>? Services) _builtFrom;
    private IReadOnlyList<Endpoint> _endpoints = [];

    public override IReadOnlyList<Endpoint> Endpoints
    {
        get
        {
            var settings = config.GetSection<TranscodingSettings>();
            var services = descriptors.Services;
            lock (_lock)
            {
                if (!ReferenceEquals(settings, _builtFrom.Settings) || !ReferenceEquals(services, _builtFrom.Services))
                {
                    _endpoints = Build(settings, services);
                    _builtFrom = (settings, services);
                }
                return _endpoints;
            }
        }
    }

    public override IChangeToken GetChangeToken() => new CompositeChangeToken([config.GetChangeToken(), descriptors.GetChangeToken()]);

    private List<Endpoint> Build(TranscodingSettings settings, IReadOnlyDictionary<string, GrpcService> services)
    {
        var endpoints = new List<Endpoint>();
        var taken = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in settings.Services)
        {
            if (!services.TryGetValue(entry.Name, out var service))
            {
                endpoints.AddRange(Pending(entry, settings.RetryInterval));
                continue;
            }
            var skipped = new List<string>();
            foreach (var route in TranscodingRoutes.For(entry, service, skipped))
            {
                if (!taken.Add(route.HttpMethod + " " + route.Pattern))
                {
                    skipped.Add($"{route.Method.FullName}: {route.HttpMethod} {route.Pattern} is already taken");
                    continue;
                }
                endpoints.Add(Endpoint(route));
            }
            foreach (var reason in skipped)
            {
                Log.RuleSkipped(logger, entry.Name, reason);
            }
        }
        return endpoints;
    }

    private RouteEndpoint Endpoint(TranscodedRoute route)
    {
        var builder = new RouteEndpointBuilder(context => HandleAsync(context, route), RoutePatternFactory.Parse(route.Pattern), order: 0)
        {
            DisplayName = $"transcoded {route.Method.FullName}",
        };
        builder.Metadata.Add(new HttpMethodMetadata([route.HttpMethod]));
        if (route.Variables.Count == 0 && route.Body == "*" && route.Pattern == $"/{route.Service.Descriptor.FullName}/{route.Method.Name}")
        {
            // The convention route shares its path with gRPC itself: only JSON is ours, application/grpc goes on to the proxy.
            builder.Metadata.Add(new AcceptsMetadata(["application/json"]));
        }
        GatewayEndpointDataSource<TranscodingSettings>.AddAuthorization(builder, route.Entry.Options.AuthorizationPolicy);
        return (RouteEndpoint)builder.Build();
    }

    /// <summary>While a service's descriptors are missing: 503 under its path prefix and on its convention routes.</summary>
    private static IEnumerable<Endpoint> Pending(TranscodedService entry, TimeSpan retry)
    {
        var patterns = new List<string>();
        if (entry.Options.PathPrefix is { } prefix)
        {
            patterns.Add(prefix.TrimEnd('/') + "/{**rest}");
        }
        if (entry.Options.ConventionRoutes)
        {
            patterns.Add($"/{entry.Name}/{{method}}");
        }
        foreach (var pattern in patterns)
        {
            var builder = new RouteEndpointBuilder(async context =>
            {
                context.Response.Headers.RetryAfter = ((int)Math.Ceiling(retry.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                await GatewayProblems.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "Service not available yet",
                    $"The gateway has no descriptors for gRPC service '{entry.Name}' yet (it may be down); try again later.");
            }, RoutePatternFactory.Parse(pattern), order: 1)
            {
                DisplayName = $"transcoded {entry.Name} (descriptors pending)",
            };
            if (pattern.EndsWith("{method}", StringComparison.Ordinal))
            {
                builder.Metadata.Add(new AcceptsMetadata(["application/json"]));
            }
            GatewayEndpointDataSource<TranscodingSettings>.AddAuthorization(builder, entry.Options.AuthorizationPolicy);
            yield return builder.Build();
        }
    }

    private async Task HandleAsync(HttpContext context, TranscodedRoute route)
    {
        var settings = route.Service.Json with
        {
            IgnoreUnknownFields = route.Entry.Options.IgnoreUnknownFields,
            FormatDefaultValues = route.Entry.Options.EmitDefaults,
        };
        byte[] request;
        try
        {
            if (await ReadRequestAsync(context, route, settings) is not { } built)
            {
                return; // answered (413)
            }
            request = built;
        }
        catch (GrpcJsonException ex)
        {
            await GatewayProblems.WriteAsync(context, StatusCodes.Status400BadRequest, "Invalid request", ex.Message,
                new Dictionary<string, string[]> { [ex.Path] = [ex.Message] });
            return;
        }

        var authorization = context.Request.Headers.Authorization.Count > 0 ? context.Request.Headers.Authorization.ToString() : null;
        var timeout = route.Entry.Options.Timeout ?? DefaultTimeout;
        if (route.Method.IsServerStreaming)
        {
            await StreamAsync(context, route, request, authorization, timeout, settings);
            return;
        }
        var reply = await caller.CallAsync(route.Entry.Cluster, route.Method, request, authorization, context.TraceIdentifier,
            RequestSafety.IsIdempotent(context.Request), timeout, context.RequestAborted, IdentityForwarding.Of(context.User));
        if (!reply.IsOk)
        {
            await WriteFailureAsync(context, reply, settings);
            return;
        }
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        try
        {
            using var writer = new Utf8JsonWriter(output);
            WriteReply(writer, reply.Message!, route, settings);
        }
        catch (GrpcJsonException ex)
        {
            await GatewayProblems.WriteAsync(context, StatusCodes.Status502BadGateway, "Invalid reply", $"{route.Method.FullName} answered a message that has no JSON form: {ex.Message}");
            return;
        }
        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.Body.WriteAsync(output.WrittenMemory, context.RequestAborted);
    }

    /// <summary>
    /// A gRPC error as problem+json: the mapped HTTP status, the service's field violations under <c>errors</c>, and the
    /// <c>google.rpc.Status</c> it sent (code, message, details as proto3 JSON) under <c>grpcStatus</c>.
    /// </summary>
    private static ValueTask WriteFailureAsync(HttpContext context, GrpcReply reply, GrpcJsonSettings settings)
    {
        List<KeyValuePair<string, object?>>? extensions = null;
        if (reply.StatusDetails is { } details)
        {
            try
            {
                extensions = [new("grpcStatus", JsonDocument.Parse(GrpcJsonWriter.ToJson(details, Google.Rpc.Status.Descriptor, settings)).RootElement)];
            }
            catch (GrpcJsonException)
            {
                // Details the gateway cannot read (an Any of a type it does not know) are left out; the status stays.
            }
        }
        return GatewayProblems.WriteAsync(context, reply.HttpStatus, "gRPC " + GrpcCaller.StatusName(reply.GrpcStatus), reply.Detail, reply.FieldErrors, extensions);
    }

    private static void WriteReply(Utf8JsonWriter writer, byte[] message, TranscodedRoute route, GrpcJsonSettings settings)
    {
        if (route.ResponseBody is { } field)
        {
            GrpcJsonWriter.WriteField(writer, message, route.Method.OutputType, field, settings);
        }
        else
        {
            GrpcJsonWriter.Write(writer, message, 0, message.Length, route.Method.OutputType, settings);
        }
    }

    /// <summary>The request message: body first, then query parameters, then path variables (a later value of a field wins).</summary>
    private static async Task<byte[]?> ReadRequestAsync(HttpContext context, TranscodedRoute route, GrpcJsonSettings settings)
    {
        var input = route.Method.InputType;
        using var message = new MemoryStream();
        if (route.Body is not null)
        {
            if (await BoundedBody.ReadRequestAsync(context, MaxBodyBytes) is not { } body)
            {
                await GatewayProblems.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "Body too large", $"The body may have at most {MaxBodyBytes} bytes.");
                return null;
            }
            if (route.Body == "*")
            {
                message.Write(GrpcJsonReader.ToProtobuf(body, input, settings));
            }
            else
            {
                var field = input.FindFieldByName(route.Body)!;
                var part = GrpcJsonReader.ToProtobuf(body, field.MessageType, settings);
                var output = new CodedOutputStream(message, leaveOpen: true);
                output.WriteTag(field.FieldNumber, WireFormat.WireType.LengthDelimited);
                output.WriteBytes(UnsafeByteOperations.UnsafeWrap(part));
                output.Flush();
            }
        }
        var values = new List<KeyValuePair<string, string>>();
        if (route.Body != "*")
        {
            foreach (var (name, value) in context.Request.Query)
            {
                if (route.Variables.Any(v => v.Field == name))
                {
                    continue; // the path's value wins
                }
                foreach (var item in value)
                {
                    values.Add(new(name, item ?? ""));
                }
            }
        }
        foreach (var variable in route.Variables)
        {
            var text = string.Join('/', variable.Parts.Select(part => PathVariable.IsParameter(part) ? context.GetRouteValue(part[1..^1])?.ToString() ?? "" : part));
            values.Add(new(variable.Field, text));
        }
        if (values.Count > 0)
        {
            message.Write(GrpcJsonReader.FromText(input, values, settings));
        }
        return message.ToArray();
    }

    /// <summary>
    /// A server-streaming reply, written as each message arrives: one JSON object per line (<c>application/x-ndjson</c>) or
    /// one JSON array. An error before the first message is a problem answer; after it, the stream ends with an
    /// <c>{"error": …}</c> line (ndjson) or is cut short (array), since the status line has gone.
    /// </summary>
    private async Task StreamAsync(HttpContext context, TranscodedRoute route, byte[] request, string? authorization, TimeSpan timeout, GrpcJsonSettings settings)
    {
        var array = route.Entry.Options.Streaming == "array";
        var started = false;
        using var call = caller.StartServerStreaming(route.Entry.Cluster, route.Method, request, authorization, context.TraceIdentifier, timeout, context.RequestAborted, IdentityForwarding.Of(context.User));
        try
        {
            var output = new System.Buffers.ArrayBufferWriter<byte>();
            while (await call.ResponseStream.MoveNext(context.RequestAborted))
            {
                output.ResetWrittenCount();
                using (var writer = new Utf8JsonWriter(output))
                {
                    WriteReply(writer, call.ResponseStream.Current, route, settings);
                }
                if (!started)
                {
                    started = true;
                    context.Response.ContentType = array ? "application/json; charset=utf-8" : "application/x-ndjson";
                    if (array)
                    {
                        await context.Response.Body.WriteAsync("["u8.ToArray(), context.RequestAborted);
                    }
                }
                else if (array)
                {
                    await context.Response.Body.WriteAsync(","u8.ToArray(), context.RequestAborted);
                }
                await context.Response.Body.WriteAsync(output.WrittenMemory, context.RequestAborted);
                if (!array)
                {
                    await context.Response.Body.WriteAsync(NewLine, context.RequestAborted);
                }
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
            if (!started)
            {
                context.Response.ContentType = array ? "application/json; charset=utf-8" : "application/x-ndjson";
            }
            if (array)
            {
                await context.Response.Body.WriteAsync(started ? "]"u8.ToArray() : "[]"u8.ToArray(), context.RequestAborted);
            }
        }
        catch (RpcException ex)
        {
            var failure = GrpcCaller.Failure(ex);
            if (!started)
            {
                await WriteFailureAsync(context, failure, settings);
            }
            else if (!array)
            {
                var line = JsonSerializer.SerializeToUtf8Bytes(new { error = new { code = failure.GrpcStatus, status = GrpcCaller.StatusName(failure.GrpcStatus), message = failure.Detail } });
                await context.Response.Body.WriteAsync(line, context.RequestAborted);
                await context.Response.Body.WriteAsync(NewLine, context.RequestAborted);
            }
            else
            {
                context.Abort();
            }
        }
        catch (GrpcJsonException ex) when (!started)
        {
            await GatewayProblems.WriteAsync(context, StatusCodes.Status502BadGateway, "Invalid reply", $"{route.Method.FullName} answered a message that has no JSON form: {ex.Message}");
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "gRPC service {Service}: a route is not served: {Reason}")]
        public static partial void RuleSkipped(ILogger logger, string service, string reason);
    }
}
