using System.Collections.Frozen;

namespace Portico.Weather.Forecasts;

/// <summary>The fixed set of cities with forecasts, looked up case-insensitively.</summary>
internal static class KnownCities
{
    public static IReadOnlyList<City> All { get; } =
    [
        new("Seoul", "Asia/Seoul", 12.5, 15.0),
        new("Busan", "Asia/Seoul", 14.7, 11.0),
        new("Incheon", "Asia/Seoul", 12.0, 14.0),
        new("Daegu", "Asia/Seoul", 14.1, 14.0),
        new("Daejeon", "Asia/Seoul", 13.0, 14.5),
        new("Gwangju", "Asia/Seoul", 13.8, 13.5),
        new("Ulsan", "Asia/Seoul", 14.2, 12.0),
        new("Jeju", "Asia/Seoul", 15.8, 10.0),
        new("Tokyo", "Asia/Tokyo", 15.8, 11.0),
        new("Osaka", "Asia/Tokyo", 16.9, 11.5),
        new("Beijing", "Asia/Shanghai", 12.9, 15.5),
        new("Shanghai", "Asia/Shanghai", 17.1, 12.0),
        new("Singapore", "Asia/Singapore", 27.5, 0.7),
        new("Sydney", "Australia/Sydney", 18.0, -5.0),
        new("London", "Europe/London", 11.3, 7.0),
        new("Paris", "Europe/Paris", 12.3, 8.0),
        new("Berlin", "Europe/Berlin", 10.0, 9.5),
        new("New York", "America/New_York", 12.9, 12.5),
        new("San Francisco", "America/Los_Angeles", 14.6, 3.5),
        new("Toronto", "America/Toronto", 9.4, 13.5),
    ];

    private static readonly FrozenDictionary<string, City> ByName =
        All.ToFrozenDictionary(c => c.Name, StringComparer.OrdinalIgnoreCase);

    public static bool TryFind(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out City? city) =>
        ByName.TryGetValue(name.Trim(), out city);
}
