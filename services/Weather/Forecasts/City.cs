namespace Portico.Weather.Forecasts;

/// <summary>
/// A city the service forecasts for, with a rough climate: <see cref="MeanC"/> is the yearly mean and
/// <see cref="SeasonalSwingC"/> how far mid-summer and mid-winter stray from it (negative south of the
/// equator, where January is summer).
/// </summary>
internal sealed class City(string name, string timeZoneId, double meanC, double seasonalSwingC)
{
    public string Name { get; } = name;

    /// <summary>The city's time zone, or UTC where the machine has no time zone data.</summary>
    public TimeZoneInfo TimeZone { get; } = FindTimeZone(timeZoneId);

    public double MeanC { get; } = meanC;

    public double SeasonalSwingC { get; } = seasonalSwingC;

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
