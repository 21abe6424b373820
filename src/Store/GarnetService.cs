using Garnet;
using Microsoft.Extensions.Options;

namespace Portico.Store;

/// <summary>
/// Runs Garnet in this process: the shared cache, rate-limit counters, job status and the embedded
/// message transport speak Redis to it. Production points the same code at Redis instead.
/// </summary>
internal sealed partial class GarnetService(IOptions<StoreOptions> options, ILogger<GarnetService> logger) : IHostedService, IDisposable
{
    private GarnetServer? _server;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        _server = new GarnetServer(["--bind", o.Bind, "--port", o.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--memory", o.Memory]);
        _server.Start();
        Log.Listening(logger, o.Bind, o.Port);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _server?.Dispose();
        _server = null;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Garnet listening on {Bind}:{Port}.")]
        public static partial void Listening(ILogger logger, string bind, int port);
    }
}
