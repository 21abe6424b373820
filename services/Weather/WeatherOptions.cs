namespace Portico.Weather;

/// <summary>Settings of the weather service, bound from the <c>Weather</c> section.</summary>
public sealed record WeatherOptions
{
    public const string SectionName = "Weather";

    /// <summary>Largest <see cref="Delay"/> accepted at start-up.</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long every forecast takes, standing in for a slow upstream provider
    /// (<c>Weather:Delay</c>, e.g. <c>"00:00:00.300"</c>). Zero turns it off.
    /// </summary>
    public TimeSpan Delay { get; init; } = TimeSpan.FromMilliseconds(300);
}
