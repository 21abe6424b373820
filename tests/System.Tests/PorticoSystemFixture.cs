using Aspire.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Portico.Tests.Common;

[assembly: AssemblyFixture(typeof(Portico.SystemTests.PorticoSystemFixture))]

namespace Portico.SystemTests;

/// <summary>
/// The real AppHost — every service, the gateway and the dashboard — started once for all system tests,
/// on free ports, with its data in a temporary folder.
/// </summary>
public sealed class PorticoSystemFixture : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("portico-system-").FullName;
    private DistributedApplication? _app;

    public HttpClient Gateway { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        using var cts = new CancellationTokenSource(StartTimeout);
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
        [
            $"Portico:GatewayPort={Ports.GetFreeTcpPort()}",
            $"Portico:GatewayH2cPort={Ports.GetFreeTcpPort()}",
            $"Portico:StorePort={Ports.GetFreeTcpPort()}",
            $"Portico:DataDirectory={_dataDirectory}",
        ], cts.Token);
        appHost.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));

        _app = await appHost.BuildAsync(cts.Token);
        await _app.StartAsync(cts.Token);
        await _app.ResourceNotifications.WaitForResourceHealthyAsync("gateway", cts.Token);
        Gateway = _app.CreateHttpClient("gateway", "http");
    }

    public async ValueTask DisposeAsync()
    {
        Gateway?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // SQLite may still hold the file for a moment after the services exit.
        }
    }
}
