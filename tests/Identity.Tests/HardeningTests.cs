using System.Net;
using Portico.Tests.Common;

namespace Portico.Identity.Tests;

/// <summary>Gap 11: Identity sends hardening headers of its own, and /metrics is for the internal network only.</summary>
public sealed class HardeningTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(".well-known/jwks.json")]
    [InlineData("api/auth/me")]
    [InlineData("health/ready")]
    public async Task EveryAnswer_CarriesHardeningHeaders(string path)
    {
        using var response = await fixture.Client.GetAsync(path, Ct);

        ServiceHardening.AssertHardeningHeaders(response);
    }

    [Fact]
    public Task Metrics_FromLoopback_AreServed() => ServiceHardening.AssertMetricsAsync(fixture.Client, HttpStatusCode.OK);

    [Fact]
    public async Task Metrics_FromOutsideTheAllowedNetworks_Are404()
    {
        var path = TestDatabases.NewPath("identity");
        try
        {
            await using var app = new IdentityApp(path, ServiceHardening.MetricsElsewhere);
            using var client = app.CreateHttpClient();

            await ServiceHardening.AssertMetricsAsync(client, HttpStatusCode.NotFound);
        }
        finally
        {
            IdentityApp.DeleteFiles(path);
        }
    }
}
