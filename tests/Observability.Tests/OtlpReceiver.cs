using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Opentelemetry.Proto.Collector.Logs.V1;
using Opentelemetry.Proto.Collector.Trace.V1;
using Opentelemetry.Proto.Common.V1;

namespace Portico.Observability.Tests;

/// <summary>
/// An OTLP/gRPC endpoint the processes under test export to (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>): the OTLP trace and
/// logs services on an h2c Kestrel port, keeping every request as it arrived, so a test reads what really left each
/// process. Metrics are not served (the processes are told not to export them while a test runs).
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private OtlpReceiver(WebApplication app, Received received, Uri endpoint)
    {
        _app = app;
        Data = received;
        Endpoint = endpoint;
    }

    /// <summary>What to put in <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>.</summary>
    public Uri Endpoint { get; }

    public Received Data { get; }

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        ListenOptions? listen = null;
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l =>
        {
            l.Protocols = HttpProtocols.Http2;
            listen = l;
        }));
        builder.Services.AddGrpc(o => o.MaxReceiveMessageSize = 64 * 1024 * 1024);
        var received = new Received();
        builder.Services.AddSingleton(received);
        var app = builder.Build();
        app.MapGrpcService<TraceReceiver>();
        app.MapGrpcService<LogsReceiver>();
        await app.StartAsync();
        return new OtlpReceiver(app, received, new Uri($"http://127.0.0.1:{listen!.IPEndPoint!.Port}"));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>Everything received so far: each span and log record with the <c>service.name</c> of the process that sent it.</summary>
    public sealed class Received
    {
        private readonly ConcurrentQueue<ExportTraceServiceRequest> _traces = new();
        private readonly ConcurrentQueue<ExportLogsServiceRequest> _logs = new();

        internal void Add(ExportTraceServiceRequest request) => _traces.Enqueue(request);

        internal void Add(ExportLogsServiceRequest request) => _logs.Enqueue(request);

        public IReadOnlyList<ReceivedSpan> Spans() =>
        [
            .. from request in _traces
               from resource in request.ResourceSpans
               let service = ServiceName(resource.Resource?.Attributes)
               from library in resource.InstrumentationLibrarySpans
               from span in library.Spans
               select new ReceivedSpan(service, library.InstrumentationLibrary?.Name ?? "", span),
        ];

        public IReadOnlyList<ReceivedLog> Logs() =>
        [
            .. from request in _logs
               from resource in request.ResourceLogs
               let service = ServiceName(resource.Resource?.Attributes)
               from library in resource.InstrumentationLibraryLogs
               from record in library.Logs
               select new ReceivedLog(service, record),
        ];

        /// <summary>
        /// Every export request as the bytes that arrived: protobuf writes strings as plain UTF-8, so a value that left a
        /// process in any attribute, body, name or event is found here whatever field it was put in.
        /// </summary>
        public IReadOnlyList<byte[]> Raw() => [.. _traces.Select(t => t.ToByteArray()), .. _logs.Select(l => l.ToByteArray())];

        private static string ServiceName(IEnumerable<KeyValue>? attributes) =>
            attributes?.FirstOrDefault(a => a.Key == "service.name")?.Value.StringValue ?? "";
    }

    private sealed class TraceReceiver(Received received) : TraceService.TraceServiceBase
    {
        public override Task<ExportTraceServiceResponse> Export(ExportTraceServiceRequest request, ServerCallContext context)
        {
            received.Add(request);
            return Task.FromResult(new ExportTraceServiceResponse());
        }
    }

    private sealed class LogsReceiver(Received received) : LogsService.LogsServiceBase
    {
        public override Task<ExportLogsServiceResponse> Export(ExportLogsServiceRequest request, ServerCallContext context)
        {
            received.Add(request);
            return Task.FromResult(new ExportLogsServiceResponse());
        }
    }
}

public sealed record ReceivedSpan(string Service, string Source, Opentelemetry.Proto.Trace.V1.Span Span)
{
    public string TraceId => Convert.ToHexStringLower(Span.TraceId.Span);

    public string SpanId => Convert.ToHexStringLower(Span.SpanId.Span);

    public string ParentSpanId => Convert.ToHexStringLower(Span.ParentSpanId.Span);

    public string? Attribute(string key) => Span.Attributes.FirstOrDefault(a => a.Key == key)?.Value is { } v ? AnyValueText(v) : null;

    public override string ToString() => $"{Service} {Span.Kind} '{Span.Name}' trace {TraceId} span {SpanId} parent {ParentSpanId}";

    internal static string AnyValueText(AnyValue value) => value.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };
}

public sealed record ReceivedLog(string Service, Opentelemetry.Proto.Logs.V1.LogRecord Record)
{
    public string TraceId => Convert.ToHexStringLower(Record.TraceId.Span);

    public string Body => Record.Body is { } body ? ReceivedSpan.AnyValueText(body) : "";

    public override string ToString() => $"{Service} trace {TraceId}: {Body}";
}
