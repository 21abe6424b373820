using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace Portico.Weather.Tests;

/// <summary>One running Weather service with no delay and a fake clock that stays put.</summary>
public sealed class WeatherFixture : IAsyncLifetime
{
    /// <summary>20:00 UTC: already the next day in Seoul (UTC+9), still the same day in London.</summary>
    public static readonly DateTimeOffset Now = new(2025, 3, 10, 20, 0, 0, TimeSpan.Zero);

    public WeatherApp App { get; } = new(timeProvider: new FakeTimeProvider(Now));

    public HttpClient Client { get; private set; } = null!;

    public ValueTask InitializeAsync()
    {
        Client = App.CreateHttpClient();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.DisposeAsync();
    }
}

public sealed class WeatherApiTests(WeatherFixture fixture) : IClassFixture<WeatherFixture>
{
    /// <summary>Seoul's forecast on 2025-03-11 (its local date at <see cref="WeatherFixture.Now"/>).</summary>
    private static readonly (string Date, int TemperatureC, string Summary)[] ExpectedSeoul =
    [
        ("2025-03-11", 7, "Partly cloudy"),
        ("2025-03-12", 4, "Sunny"),
        ("2025-03-13", 5, "Sunny"),
        ("2025-03-14", 2, "Rain"),
        ("2025-03-15", 4, "Showers"),
    ];

    private readonly HttpClient _client = fixture.Client;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> Cities =>
    [
        "Seoul", "Busan", "Incheon", "Daegu", "Daejeon", "Gwangju", "Ulsan", "Jeju", "Tokyo", "Osaka",
        "Beijing", "Shanghai", "Singapore", "Sydney", "London", "Paris", "Berlin", "New York", "San Francisco", "Toronto",
    ];

    [Fact]
    public async Task GetWeather_SameCityAndDay_ReturnsIdenticalForecasts()
    {
        var first = await _client.GetStringAsync("api/weather?city=Seoul", Ct);
        var second = await _client.GetStringAsync("api/weather?city=Seoul", Ct);

        Assert.Equal(first, second);
    }

    [Theory]
    [MemberData(nameof(Cities))]
    public async Task GetWeather_KnownCity_ReturnsFiveConsecutiveDaysFromToday(string city)
    {
        using var response = await _client.GetAsync("api/weather?city=" + Uri.EscapeDataString(city), Ct);

        var report = await response.ReadReportAsync();
        Assert.Equal(city, report.City);
        Assert.Equal(Enumerable.Range(0, 5).Select(report.Date.AddDays), report.Forecasts.Select(f => f.Date));
        Assert.All(report.Forecasts, f =>
        {
            Assert.InRange(f.TemperatureC, -40, 50);
            Assert.Equal((int)Math.Round(32 + (f.TemperatureC * 1.8), MidpointRounding.AwayFromZero), f.TemperatureF);
            Assert.False(string.IsNullOrWhiteSpace(f.Summary));
        });
    }

    [Fact]
    public async Task GetWeather_Date_IsTodayInTheCitysTimeZone()
    {
        using var seoul = await _client.GetAsync("api/weather?city=Seoul", Ct);
        using var london = await _client.GetAsync("api/weather?city=London", Ct);

        Assert.Equal(new DateOnly(2025, 3, 11), (await seoul.ReadReportAsync()).Date);
        Assert.Equal(new DateOnly(2025, 3, 10), (await london.ReadReportAsync()).Date);
    }

    [Fact]
    public async Task GetWeather_CityInAnyCase_ReturnsTheSameForecastUnderTheCanonicalName()
    {
        using var canonical = await _client.GetAsync("api/weather?city=New%20York", Ct);
        using var shouted = await _client.GetAsync("api/weather?city=NEW%20york", Ct);

        var expected = await canonical.ReadReportAsync();
        var actual = await shouted.ReadReportAsync();
        Assert.Equal("New York", actual.City);
        Assert.Equal(expected.Forecasts, actual.Forecasts);
    }

    [Fact]
    public async Task GetWeather_FixedCityAndDay_MatchesTheForecastEveryProcessComputes()
    {
        // Pinned values: a hash seeded per process (string.GetHashCode) would change them on every run.
        using var response = await _client.GetAsync("api/weather?city=Seoul", Ct);

        var report = await response.ReadReportAsync();
        Assert.Equal(ExpectedSeoul, report.Forecasts.Select(f => (f.Date.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), f.TemperatureC, f.Summary)));
    }

    [Fact]
    public async Task GetWeather_Success_IsCacheableByAnyCacheForSixtySeconds()
    {
        using var response = await _client.GetAsync("api/weather?city=Busan", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var cacheControl = response.Headers.CacheControl;
        Assert.NotNull(cacheControl);
        Assert.True(cacheControl.Public);
        Assert.Equal(TimeSpan.FromSeconds(60), cacheControl.MaxAge);
    }

    [Fact]
    public async Task GetWeather_UnknownCity_Returns404ProblemNamingTheCity()
    {
        using var response = await _client.GetAsync("api/weather?city=Atlantis", Ct);

        var problem = await response.ReadProblemAsync(HttpStatusCode.NotFound);
        Assert.Contains("Atlantis", problem.Detail, StringComparison.Ordinal);
        Assert.False(response.Headers.CacheControl?.Public ?? false);
    }

    [Theory]
    [InlineData("api/weather")]
    [InlineData("api/weather?city=")]
    [InlineData("api/weather?city=%20%20")]
    public async Task GetWeather_MissingOrBlankCity_Returns400ProblemNamingTheParameter(string url)
    {
        using var response = await _client.GetAsync(url, Ct);

        var problem = await response.ReadProblemAsync(HttpStatusCode.BadRequest);
        Assert.Contains("city", problem.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HealthReady_Running_ReturnsHealthy()
    {
        using var response = await _client.GetAsync("health/ready", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
