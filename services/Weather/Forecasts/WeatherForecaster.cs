using System.Globalization;

namespace Portico.Weather.Forecasts;

/// <summary>
/// Makes up forecasts that look plausible and never change: a day's forecast for a city depends only on
/// the city and the date (a stable hash of both), and "today" comes from <see cref="TimeProvider"/>.
/// </summary>
internal sealed class WeatherForecaster(TimeProvider timeProvider)
{
    public const int Days = 5;

    public WeatherReport Forecast(City city)
    {
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(timeProvider.GetUtcNow(), city.TimeZone).DateTime);
        var forecasts = new DailyForecast[Days];
        for (var i = 0; i < Days; i++)
        {
            forecasts[i] = ForecastDay(city, today.AddDays(i));
        }
        return new WeatherReport(city.Name, today, forecasts);
    }

    internal static DailyForecast ForecastDay(City city, DateOnly date)
    {
        var hash = StableHash.Fnv1a64(string.Create(CultureInfo.InvariantCulture, $"{city.Name}|{date:yyyy-MM-dd}"));

        // Coldest around 20 January in the north; SeasonalSwingC is negative in the south.
        var season = -Math.Cos(2 * Math.PI * (date.DayOfYear - 20) / 365.25);
        var noise = (int)(hash % 9) - 4;
        var temperatureC = (int)Math.Round(city.MeanC + (city.SeasonalSwingC * season), MidpointRounding.AwayFromZero) + noise;

        return new DailyForecast(date, temperatureC, Summarize((int)((hash >> 16) % 100), temperatureC));
    }

    private static string Summarize(int roll, int temperatureC) => roll switch
    {
        < 35 => temperatureC >= 28 ? "Hot and sunny" : "Sunny",
        < 55 => "Partly cloudy",
        < 70 => "Cloudy",
        < 85 => temperatureC <= 0 ? "Snow" : "Rain",
        < 93 => temperatureC <= 2 ? "Sleet" : "Showers",
        < 97 => "Fog",
        _ => temperatureC <= 0 ? "Blizzard" : "Thunderstorm",
    };
}
