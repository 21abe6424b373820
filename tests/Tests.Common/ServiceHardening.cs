using System.Net;
using Xunit;

namespace Portico.Tests.Common;

/// <summary>
/// What every Portico service does the same way (ServiceDefaults), asserted the same way for each: hardening headers on
/// every answer, and <c>/metrics</c> for the internal network only.
/// </summary>
public static class ServiceHardening
{
    /// <summary>Settings that allow <c>/metrics</c> only to a network elsewhere: the test's loopback address stands for an outside one.</summary>
    public static IReadOnlyDictionary<string, string?> MetricsElsewhere { get; } = new Dictionary<string, string?>
    {
        ["Portico:Metrics:AllowedNetworks:0"] = "192.0.2.0/24",
    };

    /// <summary>Asserts the hardening headers ServiceDefaults adds to an answer.</summary>
    public static void AssertHardeningHeaders(HttpResponseMessage response)
    {
        ArgumentNullException.ThrowIfNull(response);
        Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
        Assert.Equal("DENY", Header(response, "X-Frame-Options"));
        Assert.Equal("no-referrer", Header(response, "Referrer-Policy"));
        Assert.Equal("default-src 'none'; frame-ancestors 'none'", Header(response, "Content-Security-Policy"));
        Assert.Equal("same-site", Header(response, "Cross-Origin-Resource-Policy"));
    }

    /// <summary>Asserts that <c>/metrics</c> answers 200 (a caller on an allowed network) or 404 (any other caller).</summary>
    public static async Task AssertMetricsAsync(HttpClient client, HttpStatusCode expected)
    {
        ArgumentNullException.ThrowIfNull(client);
        using var response = await client.GetAsync(new Uri("metrics", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(expected, response.StatusCode);
    }

    /// <summary>A header's values, joined, from the answer's headers or its content's; null when absent.</summary>
    public static string? Header(HttpResponseMessage response, string name)
    {
        ArgumentNullException.ThrowIfNull(response);
        return response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values) ? string.Join(",", values) : null;
    }
}
