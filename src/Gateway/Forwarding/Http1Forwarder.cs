using System.Buffers;
using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Portico.Gateway.Configuration;
using Portico.Gateway.Security;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace Portico.Gateway.Forwarding;

/// <summary>
/// The gateway's forwarder, put in YARP's place through its <see cref="IHttpForwarder"/> extension point. A request
/// to a plain-HTTP destination, on a route without configured transforms, goes over Portico's own HTTP/1.1
/// keep-alive connections: the request head is written from Kestrel's headers straight into a pooled buffer and
/// the response head parsed from bytes into Kestrel's response, with none of the <c>HttpRequestMessage</c>,
/// <c>HttpResponseMessage</c> and header-collection objects YARP's forwarder builds for <c>HttpClient</c> — about a
/// quarter of the proxy's CPU per request (docs/benchmarks.md). It applies what YARP's default and Portico's own
/// transforms would: the destination's <c>Host</c>, <c>X-Forwarded-*</c> set afresh, <c>Forwarded</c> and
/// connection headers dropped, the caller's identity (<see cref="IdentityForwarding"/>), hidden response headers
/// and held-back 5xx answers (<see cref="UpstreamAnswers"/>).
/// Everything else goes to YARP's forwarder unchanged: TLS and HTTP/2 destinations (gRPC), upgrades, CONNECT,
/// <c>Expect</c>, bodies without a length, and routes with transforms. When the request is traced, the trace
/// context travels on as <c>HttpClient</c> would send it, under a client span of its own when spans are recorded.
/// </summary>
internal sealed partial class Http1Forwarder : IHttpForwarder, IDisposable
{
    /// <summary>YARP's default when a cluster sets no <c>ActivityTimeout</c>.</summary>
    private static readonly TimeSpan DefaultActivityTimeout = TimeSpan.FromSeconds(100);

    /// <summary>How long a new connection may take, like YARP's default <c>HttpClient</c>.</summary>
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(15);

    private const int HeadBufferSize = 4096;

    /// <summary>Client spans of forwarded requests (ServiceDefaults records every <c>Portico.*</c> source when tracing is on).</summary>
    internal static readonly ActivitySource Spans = new("Portico.Gateway.Forwarding");

    private static readonly Action<object?> CancelExchange = static state => ((CancellationTokenSource)state!).Cancel();

    private readonly IHttpForwarder _yarp;
    private readonly UpstreamMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly bool _enabled;
    private readonly long _idleTimeout; // in TimeProvider timestamp ticks
    private readonly ConcurrentDictionary<string, Http1Destination?> _destinations = new(StringComparer.Ordinal);
    private readonly ITimer? _closer;

    public Http1Forwarder(IHttpForwarder yarp, IOptions<GatewayOptions> options, UpstreamMetrics metrics, TimeProvider time, ILogger<Http1Forwarder> logger)
    {
        _yarp = yarp;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        var forwarding = options.Value.Forwarding;
        _enabled = forwarding.FastHttp1;
        _idleTimeout = (long)(forwarding.PooledConnectionIdleTimeout.TotalSeconds * time.TimestampFrequency);
        if (_enabled)
        {
            var period = forwarding.PooledConnectionIdleTimeout / 4;
            _closer = time.CreateTimer(static state => ((Http1Forwarder)state!).CloseIdle(), this, period, period);
        }
    }

    public ValueTask<ForwarderError> SendAsync(HttpContext context, string destinationPrefix, HttpMessageInvoker httpClient,
        ForwarderRequestConfig requestConfig, HttpTransformer transformer) =>
        SendAsync(context, destinationPrefix, httpClient, requestConfig, transformer, CancellationToken.None);

    public ValueTask<ForwarderError> SendAsync(HttpContext context, string destinationPrefix, HttpMessageInvoker httpClient,
        ForwarderRequestConfig requestConfig, HttpTransformer transformer, CancellationToken cancellationToken)
    {
        if (_enabled && CanForward(context, requestConfig, transformer, out var proxied)
            && _destinations.GetOrAdd(destinationPrefix, Http1Destination.TryCreate) is { } destination)
        {
            // The head is written into the buffer of the connection that will carry it (a pooled one when a new
            // connection must be made), so a request in flight holds no buffer of its own.
            var connection = RentIdle(destination);
            var head = new HeadWriter(connection?.WriteBuffer ?? ArrayPool<byte>.Shared.Rent(HeadBufferSize));
            if (TryWriteRequestHead(context, destination, proxied?.Model.Config.Host, ref head))
            {
                return ForwardAsync(context, destination, connection, head, requestConfig.ActivityTimeout ?? DefaultActivityTimeout, cancellationToken);
            }
            // A value HTTP/1.1 cannot carry as Latin-1 text: YARP's forwarder decides what happens to it.
            if (connection is null)
            {
                ArrayPool<byte>.Shared.Return(head.Buffer);
            }
            else
            {
                connection.Adopt(head.Buffer);
                destination.Return(connection, _time.GetTimestamp());
            }
        }
        return SendThroughYarpAsync(context, destinationPrefix, httpClient, requestConfig, transformer, cancellationToken);
    }

    private async ValueTask<ForwarderError> SendThroughYarpAsync(HttpContext context, string destinationPrefix, HttpMessageInvoker httpClient,
        ForwarderRequestConfig requestConfig, HttpTransformer transformer, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var error = ForwarderError.Request;
        try
        {
            return error = await _yarp.SendAsync(context, destinationPrefix, httpClient, requestConfig, transformer, cancellationToken);
        }
        finally
        {
            _metrics.Record(context, _time.GetElapsedTime(started), error);
        }
    }

    private static bool CanForward(HttpContext context, ForwarderRequestConfig config, HttpTransformer transformer, out DestinationState? proxied)
    {
        proxied = null;
        if ((config.Version is { Major: >= 2 } && (config.VersionPolicy ?? HttpVersionPolicy.RequestVersionOrLower) != HttpVersionPolicy.RequestVersionOrLower)
            || context.Features.Get<IReverseProxyFeature>() is not { } proxy
            || !ReferenceEquals(transformer, proxy.Route.Transformer) || proxy.Route.Config.Transforms is { Count: > 0 })
        {
            return false;
        }
        proxied = proxy.ProxiedDestination;
        var request = context.Request;
        if (HttpMethods.IsConnect(request.Method) || context.Features.Get<IHttpUpgradeFeature>()?.IsUpgradableRequest == true
            || request.Headers.ContainsKey(HeaderNames.Expect))
        {
            return false;
        }
        // A body must come with its length: chunked uploads (and HTTP/2 bodies without one) stay with YARP.
        return context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody != true
            || (request.ContentLength is not null && !request.Headers.ContainsKey(HeaderNames.TransferEncoding));
    }

    internal static bool TryWriteRequestHead(HttpContext context, Http1Destination destination, string? host, ref HeadWriter head)
    {
        var request = context.Request;
        var query = request.QueryString.Value;
        if (!System.Text.Ascii.IsValid(query) || !System.Text.Ascii.IsValid(request.Method))
        {
            return false;
        }
        head.WriteAscii(request.Method);
        head.Write(" "u8);
        head.WriteAscii(destination.BasePath);
        Http1Protocol.WritePath(ref head, request.Path.HasValue || destination.BasePath.Length > 0 ? request.Path.Value : "/");
        head.WriteAscii(query ?? "");
        head.Write(" HTTP/1.1\r\nHost: "u8);
        if (host is null)
        {
            head.Write(destination.AuthorityBytes);
        }
        else if (!System.Text.Ascii.IsValid(host) || host.AsSpan().ContainsAny('\r', '\n'))
        {
            return false;
        }
        else
        {
            head.WriteAscii(host);
        }
        head.Write("\r\n"u8);

        // A traced request gets the current trace context (StartSpan), not the one it came with.
        var traceFields = Activity.Current is null ? null : TraceFields();
        foreach (var (name, values) in request.Headers)
        {
            if (Http1Protocol.IsSkippedRequestHeader(name) || (traceFields is not null && traceFields.Contains(name)))
            {
                continue;
            }
            var value = values.Count == 1 ? values[0]! : string.Join(name.Equals(HeaderNames.Cookie, StringComparison.OrdinalIgnoreCase) ? "; " : ", ", values.ToArray());
            if (!Http1Protocol.TryWriteHeader(ref head, name, value))
            {
                return false;
            }
        }

        // YARP's default X-Forwarded-* transform: each set afresh from this hop.
        if (context.Connection.RemoteIpAddress is { } remote)
        {
            head.Write("X-Forwarded-For: "u8);
            head.WriteFormatted(remote);
            head.Write("\r\n"u8);
        }
        head.Write("X-Forwarded-Proto: "u8);
        head.WriteAscii(request.Scheme);
        head.Write("\r\n"u8);
        if (request.Host.HasValue && !Http1Protocol.TryWriteHeader(ref head, "X-Forwarded-Host", request.Host.ToUriComponent()))
        {
            return false;
        }
        if (request.PathBase.HasValue && !Http1Protocol.TryWriteHeader(ref head, "X-Forwarded-Prefix", request.PathBase.ToUriComponent()))
        {
            return false;
        }

        var (userId, roles) = IdentityForwarding.Describe(context.User);
        if ((userId is not null && !Http1Protocol.TryWriteHeader(ref head, IdentityForwarding.UserIdHeader, userId))
            || (roles is not null && !Http1Protocol.TryWriteHeader(ref head, IdentityForwarding.UserRolesHeader, roles)))
        {
            return false;
        }
        return true; // the trace context and the blank line follow in ForwardAsync
    }

    private sealed record TraceFieldSet(DistributedContextPropagator Propagator, FrozenSet<string> Fields);

    private static TraceFieldSet? _traceFields;

    /// <summary>The headers the current propagator writes (traceparent, tracestate, baggage…), looked up once per propagator.</summary>
    private static FrozenSet<string> TraceFields()
    {
        var propagator = DistributedContextPropagator.Current;
        var known = _traceFields;
        if (known is null || !ReferenceEquals(known.Propagator, propagator))
        {
            _traceFields = known = new TraceFieldSet(propagator, propagator.Fields.ToFrozenSet(StringComparer.OrdinalIgnoreCase));
        }
        return known.Fields;
    }

    /// <summary>
    /// For a traced request (one with a current activity): a client span of the exchange when spans are recorded,
    /// and the trace context in the request head, as HttpClient would send it.
    /// </summary>
    private static Activity? StartSpan(HttpContext context, Http1Destination destination, ref HeadWriter head)
    {
        if (Activity.Current is null)
        {
            return null;
        }
        var span = Spans.HasListeners() ? Spans.StartActivity(context.Request.Method, ActivityKind.Client) : null;
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("http.request.method", context.Request.Method);
            span.SetTag("server.address", destination.Host);
            span.SetTag("server.port", destination.Port);
            span.SetTag("network.protocol.version", "1.1");
        }
        var writer = new TraceHeaderWriter(head);
        DistributedContextPropagator.Current.Inject(span ?? Activity.Current, writer, static (carrier, name, value) => ((TraceHeaderWriter)carrier!).Add(name, value));
        head = writer.Head;
        return span;
    }

    /// <summary>Carries the head buffer through the propagator's callback, which takes an object.</summary>
    private sealed class TraceHeaderWriter(HeadWriter head)
    {
        public HeadWriter Head = head;

        public void Add(string name, string value) => Http1Protocol.TryWriteHeader(ref Head, name, value);
    }

    private enum Stage
    {
        Request,
        RequestBody,
        ResponseHead,
        ResponseBody,
    }

    private async ValueTask<ForwarderError> ForwardAsync(HttpContext context, Http1Destination destination, Http1Connection? connection,
        HeadWriter head, TimeSpan activityTimeout, CancellationToken cancellationToken)
    {
        var request = context.Request;
        var response = context.Response;
        byte[] buffer = null!; // the connection's read buffer, or a larger rented one for a long head
        byte[]? rented = null;
        CancellationTokenRegistration aborted = default, canceled = default;
        var started = _time.GetTimestamp();
        var error = ForwarderError.None;
        var stage = Stage.Request;
        var toClient = false; // whether the step that may fail reads from or writes to the client
        var reusable = false;
        var span = StartSpan(context, destination, ref head);
        head.Write("\r\n"u8);
        try
        {
            var bodyLength = request.ContentLength ?? 0;
            var replayable = bodyLength == 0 || request.Body.CanSeek;
            var received = 0;
            CancellationToken token;
            for (var retry = false; ; retry = true)
            {
                connection ??= await ConnectAsync(destination, context.RequestAborted, cancellationToken);
                buffer = connection.ReadBuffer;
                token = connection.Timeout.Token;
                connection.Timeout.CancelAfter(activityTimeout);
                aborted = context.RequestAborted.UnsafeRegister(CancelExchange, connection.Timeout);
                canceled = cancellationToken.UnsafeRegister(CancelExchange, connection.Timeout);
                try
                {
                    await connection.Socket.SendAsync(head.Buffer.AsMemory(0, head.Length), SocketFlags.None, token);
                    for (var left = bodyLength; left > 0;)
                    {
                        stage = Stage.RequestBody;
                        toClient = true;
                        var read = await request.Body.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), token);
                        if (read == 0)
                        {
                            throw new IOException("The request body ended before its Content-Length.");
                        }
                        toClient = false;
                        await connection.Socket.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, token);
                        left -= read;
                    }
                    stage = Stage.Request;
                    received = await connection.Socket.ReceiveAsync(buffer, SocketFlags.None, token);
                }
                catch (SocketException) when (connection.Reused && !retry && replayable && !toClient && !token.IsCancellationRequested)
                {
                    received = 0; // reset by the server: the same as a close, below
                }
                if (received > 0 || retry || !connection.Reused || !replayable)
                {
                    break;
                }
                // A kept-alive connection the server closed meanwhile: nothing reached it, so the request goes again
                // on a new connection (a body only when it can be replayed).
                stage = Stage.Request;
                aborted.Dispose();
                canceled.Dispose();
                connection.Dispose();
                connection = null;
                if (bodyLength > 0)
                {
                    request.Body.Position = 0;
                }
            }
            if (received == 0)
            {
                throw new Http1ProtocolException("The upstream closed the connection without answering.");
            }

            int headEnd;
            ResponseHead answer;
            while (true)
            {
                while ((headEnd = Http1Protocol.FindHeadEnd(buffer.AsSpan(0, received))) < 0)
                {
                    if (received == buffer.Length)
                    {
                        buffer = Grow(buffer, ref rented);
                    }
                    var got = await connection.Socket.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None, token);
                    received += got > 0 ? got : throw new Http1ProtocolException("The upstream closed the connection in the middle of its answer's head.");
                }
                answer = Http1Protocol.ParseHead(buffer.AsSpan(0, headEnd));
                if (answer.Status >= 200)
                {
                    break;
                }
                if (answer.Status == 101)
                {
                    throw new Http1ProtocolException("The upstream switched protocols unasked.");
                }
                // An interim answer (100 Continue, 103 Early Hints) is not relayed; the final one follows it.
                buffer.AsSpan(headEnd, received - headEnd).CopyTo(buffer);
                received -= headEnd;
            }

            stage = Stage.ResponseHead;
            response.StatusCode = answer.Status;
            span?.SetTag("http.response.status_code", answer.Status);
            Http1Protocol.CopyHeaders(buffer.AsSpan(0, headEnd), answer, response);
            if (UpstreamAnswers.HoldBack(context, answer.Status))
            {
                return ForwarderError.None; // its body is not read, so the connection is closed
            }

            stage = Stage.ResponseBody;
            var body = response.Body;
            if (HttpMethods.IsHead(request.Method) || answer.Status is 204 or 304)
            {
                reusable = answer.KeepAlive && received == headEnd;
            }
            else if (answer.Chunked)
            {
                var decoder = new ChunkedDecoder();
                int at = headEnd, end = received;
                while (true)
                {
                    var data = decoder.Decode(buffer.AsSpan(at, end - at), out var consumed);
                    if (data > 0)
                    {
                        toClient = true;
                        await body.WriteAsync(buffer.AsMemory(at, data), token);
                        toClient = false;
                    }
                    at += consumed;
                    if (decoder.Done)
                    {
                        reusable = answer.KeepAlive && at == end;
                        break;
                    }
                    // What is left is part of a chunk-size or trailer line: keep it, and read the rest after it.
                    buffer.AsSpan(at, end - at).CopyTo(buffer);
                    (at, end) = (0, end - at);
                    end += await ReceiveBodyAsync(connection, buffer.AsMemory(end), activityTimeout, token);
                }
            }
            else if (answer.ContentLength >= 0)
            {
                // A body that fits the buffer is gathered first and relayed in one write: one send to the client
                // instead of one per piece the upstream's packets happened to arrive in.
                while (received - headEnd < answer.ContentLength && headEnd + answer.ContentLength <= buffer.Length)
                {
                    received += await ReceiveBodyAsync(connection, buffer.AsMemory(received, (int)(headEnd + answer.ContentLength - received)), activityTimeout, token);
                }
                var left = answer.ContentLength;
                var have = (int)Math.Min(received - headEnd, left);
                if (have > 0)
                {
                    toClient = true;
                    await body.WriteAsync(buffer.AsMemory(headEnd, have), token);
                    toClient = false;
                    left -= have;
                }
                while (left > 0)
                {
                    var got = await ReceiveBodyAsync(connection, buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), activityTimeout, token);
                    toClient = true;
                    await body.WriteAsync(buffer.AsMemory(0, got), token);
                    toClient = false;
                    left -= got;
                }
                // More bytes than the length said: the connection's framing cannot be trusted any more.
                reusable = answer.KeepAlive && received - headEnd <= answer.ContentLength;
            }
            else
            {
                // Neither a length nor chunked: the body ends when the server closes the connection.
                if (received > headEnd)
                {
                    toClient = true;
                    await body.WriteAsync(buffer.AsMemory(headEnd, received - headEnd), token);
                    toClient = false;
                }
                int got;
                while ((got = await connection.Socket.ReceiveAsync(buffer, SocketFlags.None, token)) > 0)
                {
                    connection.Timeout.CancelAfter(activityTimeout);
                    toClient = true;
                    await body.WriteAsync(buffer.AsMemory(0, got), token);
                    toClient = false;
                }
            }
            return ForwarderError.None;
        }
        catch (Exception exception)
        {
            reusable = false;
            var timedOut = connection?.Timeout.IsCancellationRequested == true;
            span?.SetStatus(ActivityStatusCode.Error, exception.Message);
            span?.SetTag("error.type", exception.GetType().FullName);
            return error = Fail(context, destination, stage, Classify(context, stage, toClient, timedOut, cancellationToken), exception);
        }
        finally
        {
            _metrics.Record(context, _time.GetElapsedTime(started), error);
            span?.Dispose();
            aborted.Dispose();
            canceled.Dispose();
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
            if (connection is not null)
            {
                if (reusable && connection.Timeout.TryReset())
                {
                    connection.Reused = true;
                    connection.Adopt(head.Buffer);
                    destination.Return(connection, _time.GetTimestamp());
                }
                else
                {
                    connection.Dispose();
                }
            }
        }
    }

    /// <summary>An idle connection to reuse; one idle for a while is first checked for having been closed by the server.</summary>
    private Http1Connection? RentIdle(Http1Destination destination)
    {
        var now = _time.GetTimestamp();
        while (destination.Rent() is { } connection)
        {
            // An idle socket that is readable was closed by the server (or sent something nobody asked for).
            if (now - connection.IdleSince < _time.TimestampFrequency || !connection.Socket.Poll(0, SelectMode.SelectRead))
            {
                return connection;
            }
            connection.Dispose();
        }
        return null;
    }

    private async ValueTask<Http1Connection> ConnectAsync(Http1Destination destination, CancellationToken aborted, CancellationToken canceled)
    {
        using var timeout = new CancellationTokenSource(ConnectTimeout, _time);
        using var onAbort = aborted.UnsafeRegister(CancelExchange, timeout);
        using var onCancel = canceled.UnsafeRegister(CancelExchange, timeout);
        try
        {
            return await destination.ConnectAsync(_time, timeout.Token);
        }
        catch (SocketException e)
        {
            // The same shape as HttpClient's failure, which passive health and retries recognise (TransportErrors).
            throw new HttpRequestException(HttpRequestError.ConnectionError, $"Connecting to {destination.Authority} failed ({e.SocketErrorCode}).", e);
        }
        catch (OperationCanceledException e) when (!aborted.IsCancellationRequested && !canceled.IsCancellationRequested)
        {
            throw new HttpRequestException(HttpRequestError.ConnectionError, $"Connecting to {destination.Authority} took longer than {ConnectTimeout}.", e);
        }
    }

    private static async ValueTask<int> ReceiveBodyAsync(Http1Connection connection, Memory<byte> into, TimeSpan activityTimeout, CancellationToken token)
    {
        var got = await connection.Socket.ReceiveAsync(into, SocketFlags.None, token);
        if (got == 0)
        {
            throw new Http1ProtocolException("The upstream closed the connection in the middle of its answer's body.");
        }
        connection.Timeout.CancelAfter(activityTimeout);
        return got;
    }

    /// <summary>A buffer twice as large for a long answer head; the connection's own buffer stays as it is.</summary>
    private static byte[] Grow(byte[] buffer, ref byte[]? rented)
    {
        if (buffer.Length >= Http1Protocol.MaxResponseHeadSize)
        {
            throw new Http1ProtocolException($"The upstream's answer head is larger than {Http1Protocol.MaxResponseHeadSize / 1024} KB.");
        }
        var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
        buffer.CopyTo(larger, 0);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
        return rented = larger;
    }

    private static ForwarderError Classify(HttpContext context, Stage stage, bool toClient, bool timedOut, CancellationToken cancellationToken)
    {
        var canceled = context.RequestAborted.IsCancellationRequested || cancellationToken.IsCancellationRequested;
        return stage switch
        {
            Stage.Request => canceled ? ForwarderError.RequestCanceled : timedOut ? ForwarderError.RequestTimedOut : ForwarderError.Request,
            Stage.RequestBody => canceled ? ForwarderError.RequestBodyCanceled : toClient ? ForwarderError.RequestBodyClient : ForwarderError.RequestBodyDestination,
            Stage.ResponseHead => canceled ? ForwarderError.RequestCanceled : ForwarderError.ResponseHeaders,
            _ => canceled ? ForwarderError.ResponseBodyCanceled : toClient ? ForwarderError.ResponseBodyClient : ForwarderError.ResponseBodyDestination,
        };
    }

    /// <summary>Reports a failed exchange the way YARP's forwarder does, so the steps around it (retries, passive health, problem answers) see no difference.</summary>
    private ForwarderError Fail(HttpContext context, Http1Destination destination, Stage stage, ForwarderError error, Exception exception)
    {
        context.Features.Set<IForwarderErrorFeature>(new ForwardingFailure(error, exception));
        var response = context.Response;
        if (response.HasStarted)
        {
            context.Abort(); // a half-relayed answer must not look complete to the client
        }
        else
        {
            if (stage != Stage.Request)
            {
                response.Clear(); // the upstream's headers do not belong on the error answer
            }
            response.StatusCode = error switch
            {
                ForwarderError.RequestTimedOut => StatusCodes.Status504GatewayTimeout,
                ForwarderError.RequestBodyClient => StatusCodes.Status400BadRequest,
                _ => StatusCodes.Status502BadGateway,
            };
        }
        if (error is ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled or ForwarderError.ResponseBodyCanceled)
        {
            Log.Canceled(_logger, destination.Authority, error);
        }
        else
        {
            Log.Failed(_logger, destination.Authority, error, exception.Message);
        }
        return error;
    }

    /// <summary>How many kept-alive connections to <paramref name="destinationPrefix"/> are idle (0 when it never went this way).</summary>
    internal int IdleConnections(string destinationPrefix) =>
        _destinations.TryGetValue(destinationPrefix, out var destination) && destination is not null ? destination.IdleCount : 0;

    private void CloseIdle()
    {
        var before = _time.GetTimestamp() - _idleTimeout;
        foreach (var destination in _destinations.Values)
        {
            destination?.CloseIdle(before);
        }
    }

    public void Dispose()
    {
        _closer?.Dispose();
        foreach (var destination in _destinations.Values)
        {
            destination?.CloseIdle(long.MaxValue);
        }
    }

    private sealed class ForwardingFailure(ForwarderError error, Exception exception) : IForwarderErrorFeature
    {
        public ForwarderError Error { get; } = error;

        public Exception? Exception { get; } = exception;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Forwarding to {Destination} failed ({Error}): {Reason}")]
        public static partial void Failed(ILogger logger, string destination, ForwarderError error, string reason);

        [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Forwarding to {Destination} stopped: {Error}")]
        public static partial void Canceled(ILogger logger, string destination, ForwarderError error);
    }
}
