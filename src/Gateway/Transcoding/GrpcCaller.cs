using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Http;
using Portico.Gateway.Configuration;
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
/// message bytes per method descriptor (the JSON codec makes and reads them, no generated type needed), a deadline (sent as
/// <c>grpc-timeout</c>), and a channel whose handler sends every HTTP/2 request through the <see cref="ClusterClient"/>, so
/// the call is load-balanced, breaker-gated, retried and measured as proxied requests are. The answer is mapped to the
/// HTTP status a REST caller should see (INVALID_ARGUMENT 400, NOT_FOUND 404, UNAVAILABLE 503, DEADLINE_EXCEEDED 504, …).
/// </summary>
/// <remarks>
/// The deadline is the shorter of the caller's timeout and the cluster's resilience policy <c>Timeout</c>, and each attempt
/// tells the service what is left of it, no more than the policy's <c>AttemptTimeout</c>: the service stops working on a
/// call the gateway has given up on. Grpc.Net.Client measures a deadline on the system clock (it takes no
/// <see cref="TimeProvider"/>); the gateway's clock ends the call as well, so the two agree in production and a test's
/// clock can end it.
/// </remarks>
internal sealed class GrpcCaller(ClusterClient clusters, GatewayConfigProvider config, TimeProvider time) : IDisposable
{
    private readonly ClusterClient _clusters = clusters;
    private readonly TimeProvider _time = time;
    private readonly ConcurrentDictionary<(string ClusterId, bool Idempotent, bool Unary), GrpcChannel> _channels = new();
    private readonly ConcurrentDictionary<(string Service, string Method, MethodType Type), Method<byte[], byte[]>> _methods = new();

    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(static bytes => bytes, static bytes => bytes);

    // gRPC metadata keys are lower case (PROTOCOL-HTTP2.md); the names are IdentityForwarding's.
    private static readonly string UserIdKey = IdentityForwarding.UserIdHeader.ToLowerInvariant();
    private static readonly string UserRolesKey = IdentityForwarding.UserRolesHeader.ToLowerInvariant();

    /// <summary>
    /// <paramref name="idempotent"/>: the call may be sent again after it may have arrived (a read, or a request
    /// carrying an <c>Idempotency-Key</c>); <paramref name="timeout"/> becomes the call's deadline.
    /// </summary>
    public async Task<GrpcReply> CallAsync(string clusterId, MethodDescriptor method, byte[] request, string? authorization, string requestId,
        bool idempotent, TimeSpan timeout, CancellationToken cancellationToken, ForwardedIdentity? identity = null)
    {
        timeout = Deadline(clusterId, timeout);
        using var expiry = new CancellationTokenSource(timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, expiry.Token);
        try
        {
            var reply = await Invoker(clusterId, idempotent, unary: true).AsyncUnaryCall(MethodFor(method, MethodType.Unary), null,
                new CallOptions(Headers(authorization, requestId, identity), DateTime.UtcNow + timeout, linked.Token), request);
            return new GrpcReply(StatusCodes.Status200OK, 0, "", reply);
        }
        catch (RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.Cancelled && expiry.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // The gateway's clock ended the call: its deadline passed, as Grpc.Net.Client would have said.
            return new GrpcReply(StatusCodes.Status504GatewayTimeout, 4, $"no answer within {timeout}", null) { OutcomeUnknown = true };
        }
        catch (RpcException ex)
        {
            // From the cluster client: 503 refused or no destination, so nothing was sent; 502 and 504 sent, no answer.
            return Failure(ex);
        }
    }

    /// <summary>
    /// Starts a server-streaming call; the reply messages are read from the call's response stream as they arrive. An
    /// error (before or between messages) surfaces as <see cref="RpcException"/>, which <see cref="Failure(RpcException)"/> maps;
    /// the gateway's clock ending the call at its deadline surfaces as DEADLINE_EXCEEDED, as for a unary call.
    /// </summary>
    public AsyncServerStreamingCall<byte[]> StartServerStreaming(string clusterId, MethodDescriptor method, byte[] request, string? authorization,
        string requestId, TimeSpan timeout, CancellationToken cancellationToken, ForwardedIdentity? identity = null)
    {
        timeout = Deadline(clusterId, timeout);
        var expiry = new CancellationTokenSource(timeout, _time);
        var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, expiry.Token);
        var call = Invoker(clusterId, idempotent: true).AsyncServerStreamingCall(MethodFor(method, MethodType.ServerStreaming), null,
            new CallOptions(Headers(authorization, requestId, identity), DateTime.UtcNow + timeout, linked.Token), request);
        return new AsyncServerStreamingCall<byte[]>(new DeadlineReader(call.ResponseStream, expiry, cancellationToken, timeout),
            call.ResponseHeadersAsync, call.GetStatus, call.GetTrailers, () =>
            {
                call.Dispose();
                linked.Dispose();
                expiry.Dispose();
            });
    }

    /// <summary>Reads a stream's messages; a cancellation the gateway's clock caused (not the caller's) is the deadline passing.</summary>
    private sealed class DeadlineReader(IAsyncStreamReader<byte[]> inner, CancellationTokenSource expiry, CancellationToken caller, TimeSpan timeout)
        : IAsyncStreamReader<byte[]>
    {
        public byte[] Current => inner.Current;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            try
            {
                return await inner.MoveNext(cancellationToken);
            }
            catch (RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.Cancelled && expiry.IsCancellationRequested && !caller.IsCancellationRequested)
            {
                throw new RpcException(new Status(Grpc.Core.StatusCode.DeadlineExceeded, $"no answer within {timeout}"));
            }
        }
    }

    /// <summary>The call's deadline: <paramref name="timeout"/>, or the cluster's resilience policy <c>Timeout</c> when that is shorter.</summary>
    private TimeSpan Deadline(string clusterId, TimeSpan timeout) =>
        PolicyFor(clusterId)?.Timeout is { } total && total < timeout ? total : timeout;

    private ResiliencePolicy? PolicyFor(string clusterId)
    {
        var settings = config.GetSection<ResilienceSettings>();
        return settings.PolicyForCluster(clusterId) is { } name && settings.Policies.TryGetValue(name, out var policy) ? policy : null;
    }

    /// <summary>A call invoker over the cluster client, for other gRPC clients of the gateway (server reflection).</summary>
    public CallInvoker Invoker(string clusterId, bool idempotent) => Invoker(clusterId, idempotent, unary: false);

    /// <summary>
    /// <paramref name="unary"/>: each attempt is one request and its answer, which the policy's <c>AttemptTimeout</c>
    /// bounds, so the service is told that bound; a stream is told only what is left of the call's deadline.
    /// </summary>
    private CallInvoker Invoker(string clusterId, bool idempotent, bool unary) =>
        _channels.GetOrAdd((clusterId, idempotent, unary), static (key, self) => GrpcChannel.ForAddress("http://" + key.ClusterId, new GrpcChannelOptions
        {
            HttpHandler = new ClusterHandler(self, key.ClusterId, key.Idempotent, key.Unary),
            MaxReceiveMessageSize = BoundedBody.MaxBytes,
            DisposeHttpClient = true,
        }), this).CreateCallInvoker();

    /// <summary>
    /// The call's metadata: the caller's token and request id, and who the validated caller is (<c>x-user-id</c>,
    /// <c>x-user-roles</c>), as proxied requests carry it (<see cref="IdentityForwarding"/>). Nothing the client sent is
    /// copied, so a client cannot name itself; the trace context goes with the HTTP/2 request (the cluster's client).
    /// </summary>
    private static Metadata Headers(string? authorization, string requestId, ForwardedIdentity? identity)
    {
        var headers = new Metadata { { "x-request-id", requestId } };
        if (authorization is not null)
        {
            headers.Add("authorization", authorization);
        }
        if (identity is { } caller)
        {
            headers.Add(UserIdKey, caller.UserId);
            if (caller.Roles is { } roles)
            {
                headers.Add(UserRolesKey, roles);
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
    /// is sent by the cluster client, copied afresh for every attempt to the destination chosen for it. Each copy
    /// carries what is left of the call's deadline as its <c>grpc-timeout</c>, for a unary call at most the policy's <c>AttemptTimeout</c>.
    /// </summary>
    private sealed class ClusterHandler(GrpcCaller caller, string clusterId, bool idempotent, bool unary) : HttpMessageHandler
    {
        private static readonly HttpContext NoCaller = new DefaultHttpContext();

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken);
            var target = request.RequestUri!.PathAndQuery;
            var started = caller._time.GetTimestamp();
            TimeSpan? left = request.Headers.TryGetValues(GrpcTimeout.Header, out var sent) && GrpcTimeout.TryParse(sent.FirstOrDefault(), out var value) ? value : null;
            var attemptTimeout = left is null || !unary ? null : caller.PolicyFor(clusterId)?.AttemptTimeout;
            return await caller._clusters.SendAsync(NoCaller, clusterId, idempotent, (destination, _) =>
            {
                var copy = new HttpRequestMessage(request.Method, destination.Model.Config.Address.TrimEnd('/') + target)
                {
                    Version = HttpVersion.Version20,
                    VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                };
                foreach (var (name, values) in request.Headers)
                {
                    if (!name.Equals(GrpcTimeout.Header, StringComparison.OrdinalIgnoreCase))
                    {
                        copy.Headers.TryAddWithoutValidation(name, values);
                    }
                }
                if (left is { } deadline)
                {
                    var remaining = deadline - caller._time.GetElapsedTime(started);
                    copy.Headers.TryAddWithoutValidation(GrpcTimeout.Header, GrpcTimeout.Format(attemptTimeout < remaining ? attemptTimeout.Value : remaining));
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

/// <summary>
/// The <c>grpc-timeout</c> request header of gRPC over HTTP/2 (PROTOCOL-HTTP2.md: at most eight digits and a unit, <c>H</c>
/// hours, <c>M</c> minutes, <c>S</c> seconds, <c>m</c> milliseconds, <c>u</c> microseconds, <c>n</c> nanoseconds).
/// Grpc.Net.Client writes and Grpc.AspNetCore reads it, but neither offers its helpers publicly.
/// </summary>
internal static class GrpcTimeout
{
    public const string Header = "grpc-timeout";

    private const long MaxValue = 99_999_999;

    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (text is not { Length: >= 2 and <= 9 }
            || !long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
        {
            return false;
        }
        long? ticks = text[^1] switch
        {
            'H' => amount * TimeSpan.TicksPerHour,
            'M' => amount * TimeSpan.TicksPerMinute,
            'S' => amount * TimeSpan.TicksPerSecond,
            'm' => amount * TimeSpan.TicksPerMillisecond,
            'u' => amount * TimeSpan.TicksPerMicrosecond,
            'n' => amount / 100,
            _ => null,
        };
        value = TimeSpan.FromTicks(ticks ?? 0);
        return ticks is not null;
    }

    /// <summary>
    /// Rounded down (the service stops no later than the gateway does), in the finest unit that holds it; a deadline
    /// already passed is one millisecond, which a service takes as expired.
    /// </summary>
    public static string Format(TimeSpan value)
    {
        var milliseconds = Math.Max(1, (long)value.TotalMilliseconds);
        return milliseconds <= MaxValue ? Text(milliseconds, 'm')
            : value.Ticks / TimeSpan.TicksPerSecond <= MaxValue ? Text(value.Ticks / TimeSpan.TicksPerSecond, 'S')
            : value.Ticks / TimeSpan.TicksPerMinute <= MaxValue ? Text(value.Ticks / TimeSpan.TicksPerMinute, 'M')
            : Text(Math.Min(MaxValue, value.Ticks / TimeSpan.TicksPerHour), 'H');
    }

    private static string Text(long amount, char unit) => amount.ToString(CultureInfo.InvariantCulture) + unit;
}
