namespace Portico.Weather.Tests;

/// <summary><c>Weather:Delay</c> is checked when the service starts, not at the first request.</summary>
public sealed class WeatherStartupTests
{
    [Theory]
    [InlineData("-00:00:00.001")]
    [InlineData("00:00:30.001")]
    [InlineData("00:05:00")]
    [InlineData("soon")]
    public async Task Start_InvalidDelay_FailsNamingTheSetting(string delay)
    {
        await using var app = new WeatherApp(delay: delay);

        var error = Assert.ThrowsAny<Exception>(() => app.Start());

        Assert.Contains("Weather:Delay", AllMessages(error), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("00:00:30")]
    public async Task Start_DelayAtEitherLimit_Starts(string delay)
    {
        await using var app = new WeatherApp(delay: delay);

        using var client = app.CreateHttpClient();
        using var response = await client.GetAsync("health/live", TestContext.Current.CancellationToken);

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
    }

    private static string AllMessages(Exception error) => error switch
    {
        AggregateException aggregate => string.Join(" | ", aggregate.InnerExceptions.Select(AllMessages)),
        { InnerException: { } inner } => error.Message + " | " + AllMessages(inner),
        _ => error.Message,
    };
}
