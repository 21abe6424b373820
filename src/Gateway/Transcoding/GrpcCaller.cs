using System.Collections.Concurrent;
using System.Net;
using System.Security.Claims;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Http;
using Portico.Gateway.Resilience;
using Portico.Gateway.Routing;
using Portico.Gateway.Security;

namespace Portico.Gateway.Transcoding;

/// <summary>The answer of one unary gRPC call, already mapped to HTTP.</summary>
internal sealed record GrpcReply(int HttpStatus, int GrpcStatus, string Detail, byte[]? Message, IReadOnlyDictionary<string, string[]>? FieldErrors = null)
{
    /// <summary>The <c>google.rpc.Status</c> the service sent in <c>grpc-status-details-bin</c>, as bytes.</summary>
    public byte[]? StatusDetails { get; init; }

    public bool IsOk => GrpcStatus == 0 && Message is not null;

    /// <summary>
    /// The status was made on this side (a reset, a lost reply, a timeout), not sent by the service: the call may or
    /// may not have been applied. False for a status the service sent, and for a call that was never sent.
    /// </summary>
    public bool OutcomeUnknown { get; init; }
}

/// <summary>
/// Calls a unary gRPC method of a YARP cluster with Grpc.Net.Client: a <see cref="Method{TRequest,TResponse}"/> of raw
/// message bytes per method descriptor (the JSON codec makes and reads them, no generated type needed), a deadline (sent as <c>grpc-timeout</c>), and a channel whose handler sends every HTTP/2
/// request through the <see cref="ClusterClient"/>, so the call is load-balanced, breaker-gated, retried and measured
/// as proxied requests are. The answer is mapped to the HTTP status a REST caller should see (INVALID_ARGUMENT 400,
/// NOT_FOUND 404, UNAVAILABLE 503, …).
/// </summary>
internal sealed class GrpcCaller(ClusterClient clusters) : IDisposable
{
    private readonly ClusterClient _clusters = clusters;
    private readonly ConcurrentDictionary<(string ClusterId, bool Idempotent), GrpcChannel> _channels = new();
    private readonly ConcurrentDictionary<(string Service, string Method, MethodType Type), Method<byte[], byte[]>> _methods = new();

    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(static bytes => bytes, static bytes => bytes);

    /// <summary>
    /// <paramref name="idempotent"/>: the call may be sent again after it may have arrived (a read, or a request
    /// carrying an <c>Idempotency-Key</c>); <paramref name="timeout"/> becomes the call's deadline.
    /// </summary>
    public async Task<GrpcReply> CallAsync(string clusterId, MethodDescriptor method, byte[] request, string? authorization, string requestId,
        bool idempotent, TimeSpan timeout, CancellationToken cancellationToken, ClaimsPrincipal? user = null)
    {
        try
        {
            var reply = await Invoker(clusterId, idempotent).AsyncUnaryCall(MethodFor(method, MethodType.Unary), null,
                new CallOptions(Headers(authorization, requestId, user), DateTime.UtcNow + timeout, cancellationToken), request);
            return new GrpcReply(StatusCodes.Status200OK, 0, "", reply);
        }
        catch (RpcException ex)
        {
            // From the cluster client: 503 refused or no destination, so nothing was sent; 502 and 504 sent, no answer.
            return Failure(ex);
        }
    }

    /// <summary>
    /// Starts a server-streaming call; the reply messages are read from the call's response stream as they arrive. An
    /// error (before or between messages) surfaces as <see cref="RpcException"/>, which <see cref="Failure(RpcException)"/> maps.
    /// </summary>
    public AsyncServerStreamingCall<byte[]> StartServerStreaming(string clusterId, MethodDescriptor method, byte[] request, string? authorization,
        string requestId, TimeSpan timeout, CancellationToken cancellationToken, ClaimsPrincipal? user = null) =>
        Invoker(clusterId, idempotent: true).AsyncServerStreamingCall(MethodFor(method, MethodType.ServerStreaming), null,
            new CallOptions(Headers(authorization, requestId, user), DateTime.UtcNow + timeout, cancellationToken), request);

    /// <summary>A call invoker over the cluster client, for other gRPC clients of the gateway (server reflection).</summary>
    public CallInvoker Invoker(string clusterId, bool idempotent) =>
        _channels.GetOrAdd((clusterId, idempotent), static (key, self) => GrpcChannel.ForAddress("http://" + key.ClusterId, new GrpcChannelOptions
        {
            HttpHandler = new ClusterHandler(self._clusters, key.ClusterId, key.Idempotent),
            MaxReceiveMessageSize = BoundedBody.MaxBytes,
            DisposeHttpClient = true,
        }), this).CreateCallInvoker();

    /// <summary>
    /// The call's metadata: the caller's token and request id, and who the validated caller is (<c>x-user-id</c>,
    /// <c>x-user-roles</c>), as proxied requests carry it (<see cref="IdentityForwarding"/>). Nothing the client sent is
    /// copied, so a client cannot name itself; the trace context goes with the HTTP/2 request (the cluster's client).
    /// </summary>
    private static Metadata Headers(string? authorization, string requestId, ClaimsPrincipal? user)
    {
        var headers = new Metadata { { "x-request-id", requestId } };
        if (authorization is not null)
        {
            headers.Add("authorization", authorization);
        }
        if (user?.Identity?.IsAuthenticated == true && user.FindFirstValue("sub") is { Length: > 0 } subject)
        {
            headers.Add("x-user-id", subject);
            var roles = string.Join(',', user.FindAll("role").Select(r => r.Value));
            if (roles.Length > 0)
            {
                headers.Add("x-user-roles", roles);
            }
        }
        return headers;
    }

    /// <summary>A status the service sent, or Grpc.Net.Client made for what failed on this side.</summary>
    internal static GrpcReply Failure(RpcException ex)
    {
        if (ex.Status.DebugException is ClusterCallException failure)
        {
            return Failure(failure.Status, failure.Status == StatusCodes.Status504GatewayTimeout ? 4 : 14, failure.Message) with
            {
                OutcomeUnknown = failure.Status != StatusCodes.Status503ServiceUnavailable,
            };
        }
        var code = (int)ex.StatusCode;
        var detail = ex.Status.Detail.Length > 0 ? ex.Status.Detail : StatusName(code);
        var details = ex.Trailers.GetValueBytes("grpc-status-details-bin");
        return new GrpcReply(HttpStatusFor(code), code, detail, null, FieldErrors(details))
        {
            StatusDetails = details,
            // Grpc.Net.Client sets a debug exception, or DEADLINE_EXCEEDED/CANCELLED, for what failed on this side.
            OutcomeUnknown = ex.Status.DebugException is not null || ex.StatusCode is Grpc.Core.StatusCode.DeadlineExceeded or Grpc.Core.StatusCode.Cancelled,
        };
    }

    public void Dispose()
    {
        foreach (var channel in _channels.Values)
        {
            channel.Dispose();
        }
    }

    private Method<byte[], byte[]> MethodFor(MethodDescriptor method, MethodType type) => _methods.GetOrAdd((method.Service.FullName, method.Name, type),
        static key => new Method<byte[], byte[]>(key.Type, key.Service, key.Method, Bytes, Bytes));

    /// <summary>
    /// The channel's transport: each HTTP/2 request Grpc.Net.Client builds (a unary call: one small framed message)
    /// is sent by the cluster client, copied afresh for every attempt to the destination chosen for it.
    /// </summary>
    private sealed class ClusterHandler(ClusterClient clusters, string clusterId, bool idempotent) : HttpMessageHandler
    {
        private static readonly HttpContext NoCaller = new DefaultHttpContext();

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken);
            var target = request.RequestUri!.PathAndQuery;
            return await clusters.SendAsync(NoCaller, clusterId, idempotent, (destination, _) =>
            {
                var copy = new HttpRequestMessage(request.Method, destination.Model.Config.Address.TrimEnd('/') + target)
                {
                    Version = HttpVersion.Version20,
                    VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                };
                foreach (var (name, values) in request.Headers)
                {
                    copy.Headers.TryAddWithoutValidation(name, values);
                }
                if (body is not null)
                {
                    copy.Content = new ByteArrayContent(body);
                    foreach (var (name, values) in request.Content!.Headers)
                    {
                        copy.Content.Headers.TryAddWithoutValidation(name, values);
                    }
                }
                return ValueTask.FromResult(copy);
            }, cancellationToken);
        }
    }

    private static GrpcReply Failure(int httpStatus, int grpcStatus, string detail) => new(httpStatus, grpcStatus, detail, null);

    /// <summary>google.rpc.BadRequest field violations, when the service sent them.</summary>
    private static Dictionary<string, string[]>? FieldErrors(byte[]? detailsBin)
    {
        if (detailsBin is null)
        {
            return null;
        }
        try
        {
            var status = Google.Rpc.Status.Parser.ParseFrom(detailsBin);
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
        catch (InvalidProtocolBufferException)
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

    /// <summary>The code of a status name such as <c>NOT_FOUND</c>; -1 when there is none.</summary>
    internal static int StatusCode(string name) => Array.FindIndex(StatusNames, n => n.Equals(name, StringComparison.OrdinalIgnoreCase));
}
