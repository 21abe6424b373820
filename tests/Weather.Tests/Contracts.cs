using System.Net.Http.Json;
using System.Text.Json;

namespace Portico.Weather.Tests;

// The wire contract as a client sees it, written out independently of the service's types.
public sealed record DailyForecastDto(DateOnly Date, int TemperatureC, int TemperatureF, string Summary);

public sealed record WeatherReportDto(string City, DateOnly Date, List<DailyForecastDto> Forecasts);

public sealed record ProblemDto(string? Type, string? Title, int? Status, string? Detail);

internal static class HttpResponseMessageExtensions
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    public static async Task<WeatherReportDto> ReadReportAsync(this HttpResponseMessage response)
    {
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (await response.Content.ReadFromJsonAsync<WeatherReportDto>(Web, TestContext.Current.CancellationToken))!;
    }

    /// <summary>Asserts a problem+json answer with the given status and returns its body.</summary>
    public static async Task<ProblemDto> ReadProblemAsync(this HttpResponseMessage response, System.Net.HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = (await response.Content.ReadFromJsonAsync<ProblemDto>(Web, TestContext.Current.CancellationToken))!;
        Assert.Equal((int)status, problem.Status);
        return problem;
    }
}
