using System.Net;

namespace Portico.Identity.Tests;

/// <summary>Gap 6: password hashing runs one at a time here, one more may wait; the rest get 503 with Retry-After.</summary>
public sealed class HashingThrottleTests() : IdentityHostFixture(new Dictionary<string, string?>
{
    ["Identity:PasswordHashing:MaxConcurrency"] = "1",
    ["Identity:PasswordHashing:QueueLimit"] = "1",
})
{
    [Fact]
    public async Task Login_FloodOfMadeUpEmails_BeyondTheQueueGets503WithRetryAfter_AndTheServiceStaysUsable()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);

        var responses = await Task.WhenAll(Enumerable.Range(0, 16).Select(async i =>
        {
            using var client = App.CreateHttpClient();
            client.DefaultRequestHeaders.Add("X-Forwarded-For", $"192.0.2.{i + 1}");
            return await client.LoginAsync(IdentityClient.NewEmail("made-up"), "made-up-Password-1");
        }));
        try
        {
            Assert.All(responses, r => Assert.Contains(r.StatusCode, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.ServiceUnavailable }));
            var busy = responses.Where(r => r.StatusCode == HttpStatusCode.ServiceUnavailable).ToList();
            Assert.NotEmpty(busy);
            Assert.All(busy, r => Assert.Equal(TimeSpan.FromSeconds(2), r.Headers.RetryAfter?.Delta));
            await busy[0].ReadProblemAsync(HttpStatusCode.ServiceUnavailable);
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }

        await Client.LoginOkAsync(email);
    }
}
