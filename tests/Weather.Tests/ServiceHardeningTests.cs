using System.Net;
using System.Net.Http.Headers;
using Portico.Tests.Common;

namespace Portico.Weather.Tests;

/// <summary>
/// Issue 27, gap 11: every service, not only Identity, sends hardening headers of its own (ServiceDefaults) without
/// replacing a header the endpoint set, and serves <c>/metrics</c> to the internal network only. Weather stands for any
/// service: it does nothing for either itself.
/// </summary>
public sealed class ServiceHardeningTests(WeatherFixture fixture) : IClassFixture<WeatherFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("api/weather?city=Seoul")]
    [InlineData("api/weather?city=Atlantis")]
    [InlineData("health/ready")]
    [InlineData("no/such/path")]
    public async Task EveryAnswer_CarriesHardeningHeaders(string path)
    {
        using var response = await fixture.Client.GetAsync(path, Ct);

        ServiceHardening.AssertHardeningHeaders(response);
    }

    [Fact]
    public async Task EndpointsOwnCacheControl_IsKept_EvenForACallerWithCredentials()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/weather?city=Seoul");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "anything");

        using var response = await fixture.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Headers.CacheControl?.Public, response.Headers.CacheControl?.ToString());
        Assert.False(response.Headers.CacheControl?.NoStore);
    }

    [Fact]
    public async Task AnswerToACallerWithCredentials_ThatSaysNothingAboutCaching_IsNoStore_APublicOneIsLeftAlone()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/weather?city=Atlantis");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "anything");
        using var withCredentials = await fixture.Client.SendAsync(request, Ct);
        using var anonymous = await fixture.Client.GetAsync("api/weather?city=Atlantis", Ct);

        Assert.Equal(HttpStatusCode.NotFound, withCredentials.StatusCode);
        Assert.Equal("no-store", withCredentials.Headers.CacheControl?.ToString());
        Assert.Null(anonymous.Headers.CacheControl); // a shared cache (the gateway) applies its own rules to it
    }

    [Fact]
    public Task Metrics_FromLoopback_AreServed() => ServiceHardening.AssertMetricsAsync(fixture.Client, HttpStatusCode.OK);

    [Fact]
    public async Task Metrics_FromOutsideTheAllowedNetworks_Are404()
    {
        // The test's loopback address stands for an outside one: the allowed network is elsewhere.
        await using var app = new ServiceApp<Program>(ServiceHardening.MetricsElsewhere);
        using var client = app.CreateHttpClient();

        await ServiceHardening.AssertMetricsAsync(client, HttpStatusCode.NotFound);
        using var weather = await client.GetAsync("api/weather?city=Seoul", Ct);
        Assert.Equal(HttpStatusCode.OK, weather.StatusCode);
    }
}
