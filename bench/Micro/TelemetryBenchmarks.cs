using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Portico.Gateway.Telemetry;

namespace Portico.Gateway.Benchmarks;

/// <summary>Request ids and the access log: code every request runs before routing.</summary>
[MemoryDiagnoser]
public class TelemetryBenchmarks
{
    private static readonly RequestDelegate Done = static _ => Task.CompletedTask;

    private readonly RequestIdMiddleware _requestId = new(Done);
    private static readonly AccessLogFile NoFile = NewFile(null);
    private static readonly AccessLogFile DevNull = NewFile("/dev/null");

    private readonly AccessLogMiddleware _accessLogOff = new(Done, NullLoggerFactory.Instance, NoFile, new LiveRequests(TimeProvider.System));
    private readonly AccessLogMiddleware _accessLogOn = new(Done, new FormattingLoggerFactory(), NoFile, new LiveRequests(TimeProvider.System));
    private readonly AccessLogMiddleware _accessLogFile = new(Done, NullLoggerFactory.Instance, DevNull, new LiveRequests(TimeProvider.System));
    private DefaultHttpContext _withId = null!;
    private DefaultHttpContext _withoutId = null!;

    private static AccessLogFile NewFile(string? path) =>
        new(Options.Create(new AccessLogOptions { Path = path }), TimeProvider.System, NullLogger<AccessLogFile>.Instance);

    [GlobalSetup]
    public void Setup()
    {
        DevNull.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        _withId = NewContext();
        _withId.Request.Headers[RequestIdMiddleware.HeaderName] = "checkout-7f3a9c21-4b5d";
        _withoutId = NewContext();
    }

    private static DefaultHttpContext NewContext()
    {
        var context = new DefaultHttpContext();
        context.Request.Method = HttpMethods.Get;
        context.Request.Path = "/api/products/42";
        context.Request.Protocol = "HTTP/1.1";
        return context;
    }

    [Benchmark(Description = "request id: caller's id kept")]
    public Task RequestId_Incoming() => _requestId.InvokeAsync(_withId);

    /// <summary>Includes removing the id the previous call set, so that each call makes a new one.</summary>
    [Benchmark(Description = "request id: new id")]
    public Task RequestId_New()
    {
        _withoutId.Request.Headers.Remove(RequestIdMiddleware.HeaderName);
        return _requestId.InvokeAsync(_withoutId);
    }

    [Benchmark(Description = "access log: level off")]
    public Task AccessLog_Off() => _accessLogOff.InvokeAsync(_withId);

    [Benchmark(Description = "access log: formatted line")]
    public Task AccessLog_On() => _accessLogOn.InvokeAsync(_withId);

    [Benchmark(Description = "access log: line into the batched file")]
    public Task AccessLog_File() => _accessLogFile.InvokeAsync(_withId);

    /// <summary>A logger that formats every message, as a console or file sink would, and drops it.</summary>
    private sealed class FormattingLoggerFactory : ILoggerFactory, ILogger
    {
        public string? LastLine { get; private set; }
        public ILogger CreateLogger(string categoryName) => this;
        public void AddProvider(ILoggerProvider provider) { }
        public void Dispose() { }
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            LastLine = formatter(state, exception);
    }
}
