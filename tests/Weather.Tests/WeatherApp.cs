using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Portico.Weather.Tests;

/// <summary>
/// The Weather service on a real Kestrel port (127.0.0.1:0) with the given <c>Weather:Delay</c>
/// (zero unless a test needs one) and, when given, a test clock in place of <see cref="TimeProvider.System"/>.
/// </summary>
public sealed class WeatherApp : WebApplicationFactory<Program>
{
    private readonly string _delay;
    private readonly TimeProvider? _timeProvider;

    public WeatherApp(string delay = "00:00:00", TimeProvider? timeProvider = null)
    {
        _delay = delay;
        _timeProvider = timeProvider;
        UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
    }

    /// <summary>Base address of the running server; the server starts on first use.</summary>
    public Uri Address
    {
        get
        {
            StartServer();
            var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            return new Uri(address.EndsWith('/') ? address : address + "/");
        }
    }

    /// <summary>A plain client over TCP to the Kestrel port.</summary>
    public HttpClient CreateHttpClient() => new() { BaseAddress = Address };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Weather:Delay"] = _delay,
        }));
        builder.ConfigureLogging(logging => logging.ClearProviders());
        if (_timeProvider is not null)
        {
            builder.ConfigureTestServices(services => services.Replace(ServiceDescriptor.Singleton(_timeProvider)));
        }
    }
}
