using Microsoft.Extensions.Options;

namespace Portico.Ordering.Tests;

/// <summary>Bad settings stop the service at start-up with every problem named.</summary>
public sealed class StartupTests
{
    [Fact]
    public async Task Start_WithBadSettings_FailsNamingEachOne()
    {
        var path = ServiceApp<Program>.NewDatabasePath("ordering");
        await using var app = new ServiceApp<Program>(path, new Dictionary<string, string?>
        {
            ["ConnectionStrings:orderingdb"] = $"Data Source={path}",
            ["Ordering:CatalogUrl"] = "catalog without scheme",
            ["Ordering:CatalogRetryAfter"] = "00:00:00",
        });

        var e = Assert.Throws<OptionsValidationException>(() => app.Address);

        Assert.Contains(e.Failures, f => f.Contains("Ordering:CatalogUrl", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.Contains("Ordering:CatalogRetryAfter", StringComparison.Ordinal));
        ServiceApp<Program>.DeleteDatabase(path);
    }
}
