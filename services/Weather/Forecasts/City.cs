namespace Portico.Weather.Forecasts;

/// <summary>
/// A city the service forecasts for, with a rough climate: <paramref name="MeanC"/> is the yearly mean
/// and <paramref name="SeasonalSwingC"/> how far mid-summer and mid-winter stray from it (negative south
/// of the equator, where January is summer).
/// </summary>
internal sealed record City(string Name, string TimeZoneId, double MeanC, double SeasonalSwingC)
{
    private readonly Lazy<TimeZoneInfo> _timeZone = new(() => FindTimeZone(TimeZoneId));

    /// <summary>The city's time zone, or UTC where the machine has no time zone data.</summary>
    public TimeZoneInfo TimeZone => _timeZone.Value;

    private static TimeZoneInfo FindTimeZone(string id)
    {
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id);
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            return TimeZoneInfo.Utc;
        }
    }
}
