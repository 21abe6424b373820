using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Portico.Weather;
using Portico.Weather.Forecasts;

namespace Microsoft.Extensions.Hosting;

public static class WeatherServiceCollectionExtensions
{
    /// <summary>
    /// Registers the forecaster, <see cref="TimeProvider.System"/> (unless one is registered already),
    /// <see cref="WeatherOptions"/> from the <c>Weather</c> section validated at start-up, and
    /// problem+json error responses.
    /// </summary>
    public static TBuilder AddWeatherServices<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddProblemDetails();
        builder.Services.TryAddSingleton(TimeProvider.System);

        builder.Services.AddOptions<WeatherOptions>()
            .BindConfiguration(WeatherOptions.SectionName)
            .ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WeatherOptions>, WeatherOptionsValidator>());

        builder.Services.AddSingleton<WeatherForecaster>();
        return builder;
    }
}
