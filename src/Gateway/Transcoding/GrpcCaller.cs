using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Microsoft.AspNetCore.Http;
using Portico.Gateway.Routing;
using Yarp.ReverseProxy;

namespace Portico.Gateway.Transcoding;

/// <summary>The answer of one unary gRPC call, already mapped to HTTP.</summary>
internal sealed record GrpcReply(int HttpStatus, int GrpcStatus, string Detail, IMessage? Message, IReadOnlyDictionary<string, string[]>? FieldErrors = null)
{
    public bool IsOk => GrpcStatus == 0 && Message is not null;
}

/// <summary>
/// Calls a unary gRPC method on a healthy destination of a YARP cluster over HTTP/2 with the cluster's own
/// client: length-prefixed protobuf in, grpc-status from the trailers out, mapped to the HTTP status the REST
/// caller should see (INVALID_ARGUMENT 400, NOT_FOUND 404, UNAVAILABLE 503, …).
/// </summary>
internal sealed class GrpcCaller(IProxyStateLookup proxy)
{
    private static readonly MediaTypeHeaderValue GrpcContentType = new("application/grpc");

    public async Task<GrpcReply> CallAsync(string clusterId, MethodDescriptor method, IMessage request, string? authorization, string requestId,
        CancellationToken cancellationToken)
    {
        if (!proxy.TryGetCluster(clusterId, out var cluster) || cluster.Model?.HttpClient is not { } client)
        {
            return Failure(StatusCodes.Status503ServiceUnavailable, 14, $"cluster '{clusterId}' is not loaded");
        }
        var destinations = cluster.DestinationsState.AvailableDestinations;
        if (destinations.Count == 0)
        {
            return Failure(StatusCodes.Status503ServiceUnavailable, 14, $"no healthy destination in cluster '{clusterId}'");
        }
        var destination = destinations[Random.Shared.Next(destinations.Count)];

        var size = request.CalculateSize();
        var frame = new byte[5 + size];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)size);
        request.WriteTo(frame.AsSpan(5));
        var uri = destination.Model.Config.Address.TrimEnd('/') + "/" + method.Service.FullName + "/" + method.Name;
        using var message = new HttpRequestMessage(HttpMethod.Post, uri)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(frame),
        };
        message.Content.Headers.ContentType = GrpcContentType;
        message.Headers.TryAddWithoutValidation("te", "trailers");
        message.Headers.TryAddWithoutValidation("X-Request-Id", requestId);
        if (authorization is not null)
        {
            message.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        HttpResponseMessage response;
        byte[] body;
        try
        {
            response = await client.SendAsync(message, cancellationToken);
            body = await BoundedBody.ReadAsync(response.Content, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            return Failure(StatusCodes.Status503ServiceUnavailable, 14, $"cluster '{clusterId}' could not be reached or answered too much ({ex.HttpRequestError})");
        }
        using (response)
        {
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return Failure(StatusCodes.Status502BadGateway, 13, $"cluster '{clusterId}' answered HTTP {(int)response.StatusCode} instead of gRPC");
            }
            // Trailers-only answers (errors) carry the status in the headers.
            var status = Header(response, "grpc-status");
            if (!int.TryParse(status, out var code))
            {
                return Failure(StatusCodes.Status502BadGateway, 13, $"cluster '{clusterId}' sent no grpc-status");
            }
            if (code != 0)
            {
                var detail = Uri.UnescapeDataString(Header(response, "grpc-message") ?? "");
                return new GrpcReply(HttpStatusFor(code), code, detail.Length > 0 ? detail : StatusName(code), null, FieldErrors(Header(response, "grpc-status-details-bin")));
            }
            if (body.Length < 5 || body[0] != 0 || BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(1)) != body.Length - 5)
            {
                return Failure(StatusCodes.Status502BadGateway, 13, $"cluster '{clusterId}' sent a reply that is not one uncompressed message");
            }
            try
            {
                return new GrpcReply(StatusCodes.Status200OK, 0, "", method.OutputType.Parser.ParseFrom(body, 5, body.Length - 5));
            }
            catch (InvalidProtocolBufferException ex)
            {
                return Failure(StatusCodes.Status502BadGateway, 13, $"cluster '{clusterId}' sent a reply that does not parse as {method.OutputType.FullName}: {ex.Message}");
            }
        }
    }

    private static GrpcReply Failure(int httpStatus, int grpcStatus, string detail) => new(httpStatus, grpcStatus, detail, null);

    private static string? Header(HttpResponseMessage response, string name) =>
        response.TrailingHeaders.TryGetValues(name, out var values) || response.Headers.TryGetValues(name, out values) ? values.FirstOrDefault() : null;

    /// <summary>google.rpc.BadRequest field violations, when the service sent them.</summary>
    private static Dictionary<string, string[]>? FieldErrors(string? detailsBin)
    {
        if (detailsBin is null)
        {
            return null;
        }
        try
        {
            var padded = detailsBin.PadRight(detailsBin.Length + ((4 - detailsBin.Length % 4) % 4), '=');
            var status = Google.Rpc.Status.Parser.ParseFrom(Convert.FromBase64String(padded));
            var errors = new Dictionary<string, List<string>>(StringComparer.Ordinal);
            foreach (var detail in status.Details)
            {
                if (detail.TryUnpack<Google.Rpc.BadRequest>(out var badRequest))
                {
                    foreach (var violation in badRequest.FieldViolations)
                    {
                        (errors.TryGetValue(violation.Field, out var list) ? list : errors[violation.Field] = []).Add(violation.Description);
                    }
                }
            }
            return errors.Count == 0 ? null : errors.ToDictionary(e => e.Key, e => e.Value.ToArray());
        }
        catch (Exception ex) when (ex is FormatException or InvalidProtocolBufferException)
        {
            return null;
        }
    }

    /// <summary>The HTTP status for a gRPC status code, as Google's HTTP mapping has it; server faults become 502 at the edge.</summary>
    internal static int HttpStatusFor(int grpcStatus) => grpcStatus switch
    {
        0 => 200,
        1 => 499,               // CANCELLED
        3 or 9 or 11 => 400,    // INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE
        4 => 504,               // DEADLINE_EXCEEDED
        5 => 404,               // NOT_FOUND
        6 or 10 => 409,         // ALREADY_EXISTS, ABORTED
        7 => 403,               // PERMISSION_DENIED
        8 => 429,               // RESOURCE_EXHAUSTED
        12 => 501,              // UNIMPLEMENTED
        14 => 503,              // UNAVAILABLE
        16 => 401,              // UNAUTHENTICATED
        _ => 502,               // UNKNOWN, INTERNAL, DATA_LOSS: the service failed
    };

    private static readonly string[] StatusNames = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"];

    internal static string StatusName(int code) => code >= 0 && code < StatusNames.Length ? StatusNames[code] : "status " + code;
}
