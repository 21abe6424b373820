using System.Net;

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

        Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
        Assert.Equal("DENY", Header(response, "X-Frame-Options"));
        Assert.Equal("no-referrer", Header(response, "Referrer-Policy"));
        Assert.Equal("default-src 'none'; frame-ancestors 'none'", Header(response, "Content-Security-Policy"));
    }

    [Fact]
    public async Task Metrics_FromLoopback_AreServed()
    {
        using var response = await fixture.Client.GetAsync("metrics", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Metrics_FromOutsideTheAllowedNetworks_Are404()
    {
        var path = Portico.Tests.Common.TestDatabases.NewPath("identity");
        try
        {
            await using var app = new IdentityApp(path, new Dictionary<string, string?> { ["Portico:Metrics:AllowedNetworks:0"] = "192.0.2.0/24" });
            using var client = app.CreateHttpClient();

            using var response = await client.GetAsync("metrics", Ct);

            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }
        finally
        {
            IdentityApp.DeleteFiles(path);
        }
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values) ? string.Join(",", values) : null;
}
