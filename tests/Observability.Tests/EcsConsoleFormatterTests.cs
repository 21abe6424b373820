using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Portico.ServiceDefaults.Logging;

namespace Portico.Observability.Tests;

/// <summary>The <c>ecs</c> console format, one entry at a time, checked field by field and against the index template.</summary>
public sealed class EcsConsoleFormatterTests
{
    private static readonly FakeTimeProvider Clock = new(new DateTimeOffset(2026, 12, 3, 9, 30, 15, 123, TimeSpan.Zero));

    [Fact]
    public void A_request_log_line_has_the_ecs_fields_the_template_declares()
    {
        using var activity = new Activity("test").SetIdFormat(ActivityIdFormat.W3C).Start();
        var scopes = new LoggerExternalScopeProvider();
        using var requestScope = scopes.Push(new Dictionary<string, object?> { ["RequestId"] = "0HN8:00000001", ["RequestPath"] = "/api/orders", ["ConnectionId"] = "0HN8" });
        var state = new Dictionary<string, object?> { ["OrderId"] = 42, ["User.Id"] = "u-1", ["{OriginalFormat}"] = "Placed order {OrderId}" };

        var line = Format(LogLevel.Information, new EventId(7, "OrderPlaced"), state, "Placed order 42", null, scopes);

        Assert.Empty(EcsTemplate.Shipped.Check(line));
        var json = JsonDocument.Parse(line).RootElement;
        Assert.Equal("2026-12-03T09:30:15.1230000Z", json.GetProperty("@timestamp").GetString());
        Assert.Equal("info", json.GetProperty("log.level").GetString());
        Assert.Equal("Portico.Tests", json.GetProperty("log.logger").GetString());
        Assert.Equal("Placed order 42", json.GetProperty("message").GetString());
        Assert.Equal("7", json.GetProperty("event.code").GetString());
        Assert.Equal("OrderPlaced", json.GetProperty("event.action").GetString());
        Assert.Equal(activity.TraceId.ToHexString(), json.GetProperty("trace.id").GetString());
        Assert.Equal(activity.SpanId.ToHexString(), json.GetProperty("span.id").GetString());
        Assert.Equal("ordering", json.GetProperty("service.name").GetString());
        Assert.Equal("ordering-1", json.GetProperty("service.node.name").GetString());
        Assert.Equal("0HN8:00000001", json.GetProperty("http.request.id").GetString());
        Assert.Equal("/api/orders", json.GetProperty("url.path").GetString());
        var labels = json.GetProperty("labels");
        Assert.Equal("42", labels.GetProperty("OrderId").GetString());
        Assert.Equal("u-1", labels.GetProperty("User_Id").GetString()); // no dots in label names
        Assert.Equal("0HN8", labels.GetProperty("ConnectionId").GetString());
        Assert.False(labels.TryGetProperty("{OriginalFormat}", out _));
    }

    [Fact]
    public void An_exception_stays_on_one_line_with_its_type_message_and_stack()
    {
        Exception thrown;
        try
        {
            throw new InvalidOperationException("the ledger is busy\nsecond line");
        }
        catch (InvalidOperationException e)
        {
            thrown = e;
        }

        var line = Format(LogLevel.Error, default, new Dictionary<string, object?>(), "Accrue failed", thrown, null);

        Assert.DoesNotContain('\n', line.TrimEnd('\n'));
        Assert.Empty(EcsTemplate.Shipped.Check(line));
        var json = JsonDocument.Parse(line).RootElement;
        Assert.Equal("error", json.GetProperty("log.level").GetString());
        Assert.Equal("System.InvalidOperationException", json.GetProperty("error.type").GetString());
        Assert.Equal("the ledger is busy\nsecond line", json.GetProperty("error.message").GetString());
        Assert.Contains(nameof(An_exception_stays_on_one_line_with_its_type_message_and_stack), json.GetProperty("error.stack_trace").GetString(), StringComparison.Ordinal);
        Assert.False(json.TryGetProperty("trace.id", out _)); // no activity, no made-up id
    }

    [Theory]
    [InlineData(LogLevel.Trace, "trace")]
    [InlineData(LogLevel.Debug, "debug")]
    [InlineData(LogLevel.Warning, "warn")]
    [InlineData(LogLevel.Critical, "fatal")]
    public void Levels_use_the_ecs_names(LogLevel level, string expected)
    {
        var line = Format(level, default, new Dictionary<string, object?>(), "x", null, null);
        Assert.Equal(expected, JsonDocument.Parse(line).RootElement.GetProperty("log.level").GetString());
    }

    [Fact]
    public void Secret_named_values_and_secret_query_parameters_are_redacted_in_the_message_labels_and_error()
    {
        var state = new Dictionary<string, object?>
        {
            ["Authorization"] = "Bearer eyJhbGciOi.secret",
            ["client_secret"] = "s3cr3t",
            ["IdempotencyKey"] = "idem-1",
            ["targetUrl"] = "http://catalog/api/products?city=Seoul&access_token=tok-1&Refresh_Token=tok-2",
            ["City"] = "Seoul",
        };
        var thrown = new InvalidOperationException("could not call http://x/cb?code=auth-code-1");

        var line = Format(LogLevel.Warning, default, state, "Proxying to http://catalog/api/products?city=Seoul&access_token=tok-1", thrown, null);

        foreach (var secret in new[] { "eyJhbGciOi", "s3cr3t", "idem-1", "tok-1", "tok-2", "auth-code-1" })
        {
            Assert.DoesNotContain(secret, line, StringComparison.Ordinal);
        }
        var json = JsonDocument.Parse(line).RootElement;
        Assert.Equal("Proxying to http://catalog/api/products?city=Seoul&access_token=[REDACTED]", json.GetProperty("message").GetString());
        var labels = json.GetProperty("labels");
        Assert.Equal("[REDACTED]", labels.GetProperty("Authorization").GetString());
        Assert.Equal("[REDACTED]", labels.GetProperty("IdempotencyKey").GetString());
        Assert.Equal("http://catalog/api/products?city=Seoul&access_token=[REDACTED]&Refresh_Token=[REDACTED]", labels.GetProperty("targetUrl").GetString());
        Assert.Equal("Seoul", labels.GetProperty("City").GetString()); // what is not a secret stays readable
        Assert.Equal("could not call http://x/cb?code=[REDACTED]", json.GetProperty("error.message").GetString());
    }

    [Theory]
    [InlineData("/api/weather?city=Seoul", "/api/weather?city=Seoul")]
    [InlineData("/cb?token=a;b", "/cb?token=[REDACTED]")]
    [InlineData("GET /x?password=p&page=2 - 200", "GET /x?password=[REDACTED]&page=2 - 200")]
    [InlineData("key=value without a query", "key=value without a query")]
    public void Free_text_loses_only_the_values_of_secret_named_query_parameters(string text, string expected) =>
        Assert.Equal(expected, LogRedaction.RedactText(text));

    [Fact]
    public void The_template_check_refuses_undeclared_fields_and_wrong_types()
    {
        // The check is what the process test relies on: it must be able to fail.
        Assert.Contains("user.password is not in the index template", EcsTemplate.Shipped.Check("""{"user.password":"x"}"""));
        Assert.Contains("process.pid is String, the template maps it as long", EcsTemplate.Shipped.Check("""{"process.pid":"12"}"""));
        Assert.Contains("@timestamp is Number, the template maps it as date_nanos", EcsTemplate.Shipped.Check("""{"@timestamp":12}"""));
    }

    private static string Format(LogLevel level, EventId eventId, IReadOnlyDictionary<string, object?> state, string message, Exception? exception, IExternalScopeProvider? scopes)
    {
        var options = new EcsConsoleFormatterOptions { ServiceName = "ordering", InstanceId = "ordering-1" };
        using var formatter = new EcsConsoleFormatter(new FixedOptions(options), Clock);
        using var writer = new StringWriter();
        var entry = new LogEntry<IReadOnlyDictionary<string, object?>>(level, "Portico.Tests", eventId, state, exception, (_, _) => message);
        formatter.Write(entry, scopes, writer);
        var text = writer.ToString();
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        return text;
    }

    private sealed class FixedOptions(EcsConsoleFormatterOptions value) : IOptionsMonitor<EcsConsoleFormatterOptions>
    {
        public EcsConsoleFormatterOptions CurrentValue => value;

        public EcsConsoleFormatterOptions Get(string? name) => value;

        public IDisposable? OnChange(Action<EcsConsoleFormatterOptions, string?> listener) => null;
    }
}
