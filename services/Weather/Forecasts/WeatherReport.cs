namespace Portico.Weather.Forecasts;

/// <summary>The answer to <c>GET /api/weather</c>: <paramref name="Date"/> is today in the city's time zone.</summary>
public sealed record WeatherReport(string City, DateOnly Date, IReadOnlyList<DailyForecast> Forecasts);

public sealed record DailyForecast(DateOnly Date, int TemperatureC, string Summary)
{
    public int TemperatureF => (int)Math.Round(32 + (TemperatureC * 9 / 5.0), MidpointRounding.AwayFromZero);
}
