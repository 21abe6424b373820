using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using SpanKind = Opentelemetry.Proto.Trace.V1.Span.Types.SpanKind;

namespace Portico.Observability.Tests;

[CollectionDefinition(Name)]
public sealed class ShopCollection : ICollectionFixture<ShopProcesses>
{
    public const string Name = "shop processes";
}

/// <summary>
/// One user action followed end to end from one id: an order placed through the gateway is one trace in the spans the
/// gateway, Ordering and — across the broker, through Ordering's outbox relay — Catalog's consumer exported over OTLP,
/// and that trace id is on their log records and on their ECS console lines.
/// </summary>
[Collection(ShopCollection.Name)]
public sealed class TraceAcrossProcessesTests(ShopProcesses shop)
{
    private static readonly TimeSpan Arrival = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task An_order_through_the_gateway_is_one_trace_in_the_gateway_ordering_and_the_catalog_consumer_across_the_broker()
    {
        var cancel = TestContext.Current.CancellationToken;
        using var gateway = shop.GatewayClient();
        var user = await shop.SignUpAsync(gateway, "Pw-" + Guid.NewGuid().ToString("N"), cancel);
        var productId = await shop.AnyProductAsync(gateway, cancel);

        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/orders") { Content = JsonContent.Create(new { items = new[] { new { productId, quantity = 1 } } }) };
        request.Headers.Authorization = new("Bearer", user.AccessToken);
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
        using var answer = await gateway.SendAsync(request, cancel);
        Assert.True(answer.StatusCode == HttpStatusCode.Created, $"{(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync(cancel)}");

        // Catalog handles OrderPlaced after the outbox relay published it: its span is the last to arrive.
        var consumer = await Poll.UntilAsync(
            () => shop.Otlp.Data.Spans().FirstOrDefault(s => s.TraceId == traceId && s.Service == "catalog" && s.Span.Kind == SpanKind.Consumer),
            Arrival, $"Catalog's consumer span in trace {traceId}", cancel);
        var spans = shop.Otlp.Data.Spans().Where(s => s.TraceId == traceId).ToList();
        var all = string.Join("\n  ", spans);

        var gatewayServer = spans.FirstOrDefault(s => s.Service == "gateway" && s.Span.Kind == SpanKind.Server);
        Assert.True(gatewayServer is not null, $"no gateway server span in:\n  {all}");
        Assert.Equal("POST", gatewayServer.Attribute("http.request.method"));
        var orderingServer = spans.FirstOrDefault(s => s.Service == "ordering" && s.Span.Kind == SpanKind.Server && s.Attribute("http.route")?.TrimEnd('/') == "/api/orders");
        Assert.True(orderingServer is not null, $"no Ordering server span in:\n  {all}");
        // The gateway's call is the parent of Ordering's request.
        Assert.True(spans.Any(s => s.Service == "gateway" && s.Span.Kind == SpanKind.Client && s.SpanId == orderingServer.ParentSpanId), $"Ordering's parent is no gateway client span in:\n  {all}");

        // Across the broker: the consumer's parent is a span Ordering exported in this trace (the outbox row kept the
        // request's traceparent), and Catalog's span says which message it handled.
        Assert.True(spans.Any(s => s.Service == "ordering" && s.SpanId == consumer.ParentSpanId), $"the consumer's parent is no Ordering span in:\n  {all}\n  consumer: {consumer}");
        Assert.Equal("OrderPlaced.v1", consumer.Attribute("messaging.message.type"));

        // The same id on the log records each process exported, and on each one's ECS console lines.
        foreach (var service in new[] { "gateway", "ordering", "catalog" })
        {
            await Poll.UntilAsync(() => shop.Otlp.Data.Logs().FirstOrDefault(l => l.Service == service && l.TraceId == traceId), Arrival, $"an OTLP log record of {service} in trace {traceId}", cancel);
        }
        foreach (var process in new[] { shop.Gateway, shop.Ordering, shop.Catalog })
        {
            var line = await Poll.UntilAsync(() => process.Lines.FirstOrDefault(l => TraceIdOf(l) == traceId), Arrival, $"an ECS line of {process.Name} in trace {traceId}", cancel);
            using var json = JsonDocument.Parse(line);
            Assert.Equal(process.Name, json.RootElement.GetProperty("service.name").GetString());
            Assert.Empty(EcsTemplate.Shipped.Check(line));
        }
    }

    private static string? TraceIdOf(string line)
    {
        if (!line.StartsWith('{'))
        {
            return null;
        }
        using var json = JsonDocument.Parse(line);
        return json.RootElement.TryGetProperty("trace.id", out var id) ? id.GetString() : null;
    }
}
