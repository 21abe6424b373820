using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Portico.Messaging.Tests;

public sealed class MessagingOptionsTests
{
    [Fact]
    public async Task Start_WithBadSettings_FailsListingEveryError()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Messaging:Queue"] = "has spaces",
            ["Messaging:MaxAttempts"] = "0",
            ["Messaging:Concurrency"] = "0",
            ["Messaging:RetryInitialDelay"] = "00:00:00",
            ["Messaging:Namespace"] = "",
        });
        builder.AddPorticoMessaging().AddCommandHandler<Work, WorkHandler>(TestJsonContext.Default.Work, "work");
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        var all = string.Join("\n", error.Failures);
        Assert.Contains("Messaging:Queue", all, StringComparison.Ordinal);
        Assert.Contains("Messaging:MaxAttempts", all, StringComparison.Ordinal);
        Assert.Contains("Messaging:Concurrency", all, StringComparison.Ordinal);
        Assert.Contains("Messaging:RetryInitialDelay", all, StringComparison.Ordinal);
        Assert.Contains("Messaging:Namespace", all, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithHandlersButNoBroker_FailsNamingTheConnectionStrings()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.AddPorticoMessaging().AddCommandHandler<Work, WorkHandler>(TestJsonContext.Default.Work, "work");
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("ConnectionStrings:broker", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, 200)]
    [InlineData(2, 400)]
    [InlineData(3, 800)]
    [InlineData(20, 5000)]
    public void RetryDelay_DoublesPerAttempt_UpToTheMaximum(int attempt, int expectedMilliseconds)
    {
        var options = new MessagingOptions { RetryInitialDelay = TimeSpan.FromMilliseconds(200), RetryMaxDelay = TimeSpan.FromSeconds(5) };

        Assert.Equal(TimeSpan.FromMilliseconds(expectedMilliseconds), options.RetryDelay(attempt));
    }
}
