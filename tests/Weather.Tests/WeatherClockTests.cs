using Microsoft.Extensions.Time.Testing;

namespace Portico.Weather.Tests;

/// <summary>Forecasts as the days go by; each test owns its clock and its server.</summary>
public sealed class WeatherClockTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task GetWeather_NextDay_ForecastMovesOnByOneDay()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2025, 7, 1, 3, 0, 0, TimeSpan.Zero));
        await using var app = new WeatherApp(timeProvider: clock);
        using var client = app.CreateHttpClient();

        var today = await GetReportAsync(client, "Seoul");
        clock.Advance(TimeSpan.FromDays(1));
        var tomorrow = await GetReportAsync(client, "Seoul");

        Assert.Equal(today.Date.AddDays(1), tomorrow.Date);
        // A day's forecast depends only on the city and that day, so four of five carry over unchanged.
        Assert.Equal(today.Forecasts.Skip(1), tomorrow.Forecasts.Take(4));
        Assert.NotEqual(today.Forecasts, tomorrow.Forecasts);
    }

    [Fact]
    public async Task GetWeather_OverTwoWeeks_TodaysForecastChanges()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2025, 11, 3, 3, 0, 0, TimeSpan.Zero));
        await using var app = new WeatherApp(timeProvider: clock);
        using var client = app.CreateHttpClient();

        var days = new List<DailyForecastDto>();
        for (var i = 0; i < 14; i++)
        {
            days.Add((await GetReportAsync(client, "London")).Forecasts[0]);
            clock.Advance(TimeSpan.FromDays(1));
        }

        Assert.Equal(14, days.Select(d => d.Date).Distinct().Count());
        Assert.True(days.Select(d => d.TemperatureC).Distinct().Count() > 1, "temperature never changed");
        Assert.True(days.Select(d => d.Summary).Distinct().Count() > 1, "summary never changed");
    }

    [Fact]
    public async Task GetWeather_SameDayInTwoServers_ReturnsTheSameForecast()
    {
        var now = new DateTimeOffset(2025, 1, 15, 12, 0, 0, TimeSpan.Zero);
        await using var first = new WeatherApp(timeProvider: new FakeTimeProvider(now));
        await using var second = new WeatherApp(timeProvider: new FakeTimeProvider(now));
        using var firstClient = first.CreateHttpClient();
        using var secondClient = second.CreateHttpClient();

        var a = await firstClient.GetStringAsync("api/weather?city=Jeju", Ct);
        var b = await secondClient.GetStringAsync("api/weather?city=Jeju", Ct);

        Assert.Equal(a, b);
    }

    private static async Task<WeatherReportDto> GetReportAsync(HttpClient client, string city)
    {
        using var response = await client.GetAsync("api/weather?city=" + Uri.EscapeDataString(city), Ct);
        return await response.ReadReportAsync();
    }
}
