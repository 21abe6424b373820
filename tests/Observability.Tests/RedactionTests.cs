using System.Net.Http.Json;
using System.Text;

namespace Portico.Observability.Tests;

/// <summary>
/// Secrets never leave a process in a log line, a span or a log record. Real processes (<see cref="ShopProcesses"/>,
/// ECS console at Debug, OTLP to the test's receiver) are sent requests carrying every kind of secret the shop
/// handles — passwords, access and refresh tokens, client secrets, cookies, <c>Idempotency-Key</c>s, a token in a query
/// string, a password in a body that does not parse — and then every console line and every OTLP byte that arrived is
/// searched for each of them.
/// </summary>
[Collection(ShopCollection.Name)]
public sealed class RedactionTests(ShopProcesses shop)
{
    [Fact]
    public async Task No_password_token_secret_cookie_or_idempotency_key_reaches_a_log_line_or_exported_telemetry()
    {
        var cancel = TestContext.Current.CancellationToken;
        using var gateway = shop.GatewayClient();
        var secrets = new Dictionary<string, string>
        {
            ["password"] = "Pw-" + Guid.NewGuid().ToString("N"),
            ["wrong password"] = "Wrong-" + Guid.NewGuid().ToString("N"),
            ["password in a broken body"] = "Broken-" + Guid.NewGuid().ToString("N"),
            ["cookie"] = "ck-" + Guid.NewGuid().ToString("N"),
            ["idempotency key"] = "idem-" + Guid.NewGuid().ToString("N"),
            ["token in a query string"] = "qs-" + Guid.NewGuid().ToString("N"),
            ["client secret"] = ShopProcesses.ReporterSecret,
            ["gateway's client secret"] = ShopProcesses.GatewaySecret,
        };

        var user = await shop.SignUpAsync(gateway, secrets["password"], cancel);
        secrets["access token"] = user.AccessToken;
        secrets["refresh token"] = user.RefreshToken;
        var productId = await shop.AnyProductAsync(gateway, cancel);

        // The refresh grant: the old refresh token in the body, a new pair in the answer.
        using (var refreshed = await gateway.PostAsJsonAsync("/api/auth/token", new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = user.RefreshToken }, cancel))
        {
            Assert.True(refreshed.IsSuccessStatusCode, $"refresh: {(int)refreshed.StatusCode}");
            var pair = await refreshed.Content.ReadFromJsonAsync<Dictionary<string, object>>(cancel);
            secrets["refreshed access token"] = pair!["access_token"].ToString()!;
            secrets["refreshed refresh token"] = pair["refresh_token"].ToString()!;
        }
        // A service client's secret, in the body of client_credentials.
        using (var client = await gateway.PostAsJsonAsync("/api/auth/token", new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = ShopProcesses.ReporterClient, ["client_secret"] = ShopProcesses.ReporterSecret, ["resource"] = "urn:portico:ordering",
        }, cancel))
        {
            Assert.True(client.IsSuccessStatusCode, $"client_credentials: {(int)client.StatusCode} {await client.Content.ReadAsStringAsync(cancel)}");
            var token = await client.Content.ReadFromJsonAsync<Dictionary<string, object>>(cancel);
            secrets["service access token"] = token!["access_token"].ToString()!;
        }
        // A failed sign-in, and a body that does not parse with a password in it: both answered 4xx, neither echoed.
        using (var wrong = await gateway.PostAsJsonAsync("/api/auth/token", new { email = user.Email, password = secrets["wrong password"] }, cancel))
        {
            Assert.Equal(400, (int)wrong.StatusCode / 100 * 100);
        }
        using (var broken = await gateway.PostAsync("/api/auth/token", new StringContent($$"""{"email":"{{user.Email}}","password":"{{secrets["password in a broken body"]}}",""", Encoding.UTF8, "application/json"), cancel))
        {
            Assert.Equal(400, (int)broken.StatusCode);
        }
        // Headers: the bearer token and a cookie on a read, and an Idempotency-Key on an order.
        using (var me = new HttpRequestMessage(HttpMethod.Get, "/api/auth/me"))
        {
            me.Headers.Authorization = new("Bearer", secrets["refreshed access token"]);
            me.Headers.Add("Cookie", $"portico_session={secrets["cookie"]}");
            using var answer = await gateway.SendAsync(me, cancel);
            Assert.True(answer.IsSuccessStatusCode, $"me: {(int)answer.StatusCode}");
        }
        using (var order = new HttpRequestMessage(HttpMethod.Post, "/api/orders") { Content = JsonContent.Create(new { items = new[] { new { productId, quantity = 1 } } }) })
        {
            order.Headers.Authorization = new("Bearer", secrets["refreshed access token"]);
            order.Headers.Add("Idempotency-Key", secrets["idempotency key"]);
            order.Headers.Add("Cookie", $"portico_session={secrets["cookie"]}");
            using var answer = await gateway.SendAsync(order, cancel);
            Assert.True(answer.IsSuccessStatusCode, $"order: {(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync(cancel)}");
        }
        // A token in a query string (what a client that cannot set headers does): its value stays out too.
        using (var query = await gateway.GetAsync($"/api/products?access_token={secrets["token in a query string"]}", cancel))
        {
            Assert.True((int)query.StatusCode < 500, $"query: {(int)query.StatusCode}");
        }

        // Everything those requests left: wait until the last of them (the order's consumer in Catalog) was exported
        // and the order's access-log line written, so the search covers every process's share.
        await Poll.UntilAsync(() => shop.Otlp.Data.Spans().FirstOrDefault(s => s.Service == "catalog" && s.Span.Name.StartsWith("process", StringComparison.Ordinal) && s.Span.StartTimeUnixNano > 0 && s.Attribute("messaging.message.type") == "OrderPlaced.v1"),
            TimeSpan.FromSeconds(30), "Catalog's consumer span of the order", cancel);
        await Poll.UntilAsync(() => shop.Gateway.Lines.FirstOrDefault(l => l.Contains("Portico.AccessLog", StringComparison.Ordinal) && l.Contains("/api/products", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), "the gateway's access-log line of the query", cancel);

        var leaks = new List<string>();
        foreach (var process in shop.Processes)
        {
            foreach (var line in process.Lines)
            {
                leaks.AddRange(secrets.Where(s => line.Contains(s.Value, StringComparison.Ordinal)).Select(s => $"{s.Key} in a console line of {process.Name}: {line}"));
            }
        }
        foreach (var span in shop.Otlp.Data.Spans())
        {
            var text = span.Span.ToString();
            leaks.AddRange(secrets.Where(s => text.Contains(s.Value, StringComparison.Ordinal)).Select(s => $"{s.Key} in a span of {span.Service}: {text}"));
        }
        foreach (var log in shop.Otlp.Data.Logs())
        {
            var text = log.Record.ToString();
            leaks.AddRange(secrets.Where(s => text.Contains(s.Value, StringComparison.Ordinal)).Select(s => $"{s.Key} in a log record of {log.Service}: {text}"));
        }
        // And the raw bytes of every export, whatever field a value was put in.
        foreach (var raw in shop.Otlp.Data.Raw())
        {
            leaks.AddRange(secrets.Where(s => raw.AsSpan().IndexOf(Encoding.UTF8.GetBytes(s.Value)) >= 0).Select(s => $"{s.Key} in an OTLP export"));
        }
        Assert.True(leaks.Count == 0, string.Join("\n\n", leaks.Distinct().Take(30)));

        // The search can find what it looks for: the paths of those requests (not secrets) did leave.
        Assert.Contains(shop.Otlp.Data.Raw(), raw => raw.AsSpan().IndexOf(Encoding.UTF8.GetBytes("/api/auth/token")) >= 0);
    }
}
