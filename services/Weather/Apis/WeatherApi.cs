using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Portico.Weather.Forecasts;

namespace Portico.Weather.Apis;

public static class WeatherApi
{
    /// <summary>How long a forecast may be reused; the gateway caches on this.</summary>
    public static readonly TimeSpan CacheMaxAge = TimeSpan.FromSeconds(60);

    /// <summary>Maps <c>GET /api/weather?city=</c>.</summary>
    public static IEndpointRouteBuilder MapWeatherApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/weather").WithTags("Weather")
            .MapGet("/", GetWeatherAsync).WithName("GetWeather");
        return app;
    }

    /// <summary>
    /// A five-day forecast for a known city, after the configured upstream delay. The delay is
    /// cut short when the client goes away.
    /// </summary>
    internal static async Task<Results<Ok<WeatherReport>, ProblemHttpResult>> GetWeatherAsync(
        [FromQuery] string? city,
        WeatherForecaster forecaster,
        IOptions<WeatherOptions> options,
        TimeProvider timeProvider,
        HttpResponse response,
        CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(city))
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status400BadRequest,
                title: "Missing city",
                detail: "The query parameter 'city' is required, e.g. /api/weather?city=Seoul.");
        }

        // Stands in for the slow upstream weather provider this service would call.
        var delay = options.Value.Delay;
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, timeProvider, cancellationToken);
        }

        if (!KnownCities.TryFind(city, out var known))
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status404NotFound,
                title: "Unknown city",
                detail: $"There is no forecast for the city '{city.Trim()}'.");
        }

        response.GetTypedHeaders().CacheControl = new CacheControlHeaderValue { Public = true, MaxAge = CacheMaxAge };
        return TypedResults.Ok(forecaster.Forecast(known));
    }
}
