using Microsoft.Extensions.Options;
using Portico.Tests.Common;

namespace Portico.Ordering.Tests;

/// <summary>Bad settings stop the service at start-up with every problem named.</summary>
public sealed class StartupTests
{
    [Fact]
    public async Task Start_WithBadSettings_FailsNamingEachOne()
    {
        var path = TestDatabases.NewPath("ordering");
        await using var app = new ServiceApp<Program>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:orderingdb"] = $"Data Source={path}",
            ["Ordering:CatalogUrl"] = "catalog without scheme",
            ["Ordering:CatalogRetryAfter"] = "00:00:00",
            ["ConnectionStrings:store"] = "127.0.0.1:1", // a broker is required too (StockRejected is consumed); named, never reached
        });

        var e = Assert.Throws<OptionsValidationException>(() => app.Address);

        Assert.Contains(e.Failures, f => f.Contains("Ordering:CatalogUrl", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.Contains("Ordering:CatalogRetryAfter", StringComparison.Ordinal));
        TestDatabases.Delete(path);
    }

    [Fact]
    public async Task Start_WithoutABroker_FailsNamingIt()
    {
        var path = TestDatabases.NewPath("ordering");
        await using var app = new ServiceApp<Program>(new Dictionary<string, string?> { ["ConnectionStrings:orderingdb"] = $"Data Source={path}" });

        var e = Assert.Throws<OptionsValidationException>(() => app.Address);

        Assert.Contains(e.Failures, f => f.Contains("ConnectionStrings:store", StringComparison.Ordinal));
        TestDatabases.Delete(path);
    }
}
