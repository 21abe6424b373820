using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Portico.ServiceDefaults.Logging;

/// <summary>
/// One JSON object per line with Elastic Common Schema field names, for Filebeat (or any shipper) to send to a
/// central store without parsing: selected with <c>Logging:Console:FormatterName=ecs</c>. The field names and types
/// are those <c>deploy/observability/elasticsearch/portico-logs-template.json</c> declares; a test holds the two
/// together. Dotted ECS names are written flat (<c>"trace.id"</c>), which Elasticsearch maps as nested objects.
/// </summary>
public sealed class EcsConsoleFormatter : ConsoleFormatter, IDisposable
{
    public const string FormatterName = "ecs";

    private readonly IDisposable? _reload;
    private readonly TimeProvider _time;
    private EcsConsoleFormatterOptions _options;

    public EcsConsoleFormatter(IOptionsMonitor<EcsConsoleFormatterOptions> options, TimeProvider? time = null)
        : base(FormatterName)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.CurrentValue;
        _reload = options.OnChange(o => _options = o);
        _time = time ?? TimeProvider.System;
    }

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        ArgumentNullException.ThrowIfNull(textWriter);
        // Secrets out before anything is written (LogRedaction: secret-named values, secret query parameters).
        var message = logEntry.Formatter?.Invoke(logEntry.State, logEntry.Exception) is { } formatted ? LogRedaction.RedactText(formatted) : null;
        if (message is null && logEntry.Exception is null)
        {
            return;
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("@timestamp", _time.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture));
            json.WriteString("log.level", Level(logEntry.LogLevel));
            json.WriteString("log.logger", logEntry.Category);
            json.WriteString("message", message ?? LogRedaction.RedactText(logEntry.Exception!.Message));
            if (logEntry.EventId.Id != 0)
            {
                json.WriteString("event.code", logEntry.EventId.Id.ToString(CultureInfo.InvariantCulture));
            }
            if (logEntry.EventId.Name is { } eventName)
            {
                json.WriteString("event.action", eventName);
            }
            if (Activity.Current is { } activity)
            {
                json.WriteString("trace.id", activity.TraceId.ToHexString());
                json.WriteString("span.id", activity.SpanId.ToHexString());
            }
            json.WriteString("service.name", _options.ServiceName);
            json.WriteString("service.node.name", _options.InstanceId);
            json.WriteNumber("process.pid", Environment.ProcessId);
            json.WriteString("ecs.version", EcsVersion);
            if (logEntry.Exception is { } exception)
            {
                json.WriteString("error.type", exception.GetType().FullName);
                json.WriteString("error.message", LogRedaction.RedactText(exception.Message));
                json.WriteString("error.stack_trace", LogRedaction.RedactText(exception.ToString()));
            }

            // The message's own values, then every scope's (ASP.NET Core's request scope brings RequestId and
            // RequestPath): well-known ones under their ECS names, the rest as labels (ECS: keyword values).
            var fields = new Fields(json);
            fields.Add(logEntry.State as IEnumerable<KeyValuePair<string, object?>>);
            scopeProvider?.ForEachScope((scope, f) => f.Add(scope as IEnumerable<KeyValuePair<string, object?>>), fields);
            if (fields.Labels.Count > 0)
            {
                json.WriteStartObject("labels");
                foreach (var (key, value) in fields.Labels)
                {
                    json.WriteString(key, value);
                }
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        textWriter.Write(Encoding.UTF8.GetString(buffer.WrittenSpan));
        textWriter.Write('\n');
    }

    /// <summary>The ECS version the field names follow.</summary>
    public const string EcsVersion = "8.11.0";

    public void Dispose() => _reload?.Dispose();

    /// <summary>Structured values of one log entry: ECS fields written once, everything else collected as labels.</summary>
    private sealed class Fields(Utf8JsonWriter json)
    {
        // Values ASP.NET Core's hosting logs and request scope carry, under their ECS names.
        private static readonly Dictionary<string, (string Name, bool Number)> Known = new(StringComparer.Ordinal)
        {
            ["RequestId"] = ("http.request.id", false),
            ["RequestPath"] = ("url.path", false),
            ["Method"] = ("http.request.method", false),
            ["StatusCode"] = ("http.response.status_code", true),
        };

        private readonly HashSet<string> _written = new(StringComparer.Ordinal);

        public Dictionary<string, string> Labels { get; } = new(StringComparer.Ordinal);

        public void Add(IEnumerable<KeyValuePair<string, object?>>? values)
        {
            foreach (var (key, value) in values ?? [])
            {
                if (value is null || key is "{OriginalFormat}" or "TraceId" or "SpanId" or "ParentId")
                {
                    continue; // the template, or ids written from the current activity
                }
                var text = Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";
                if (Known.ContainsKey(key))
                {
                    text = LogRedaction.RedactText(text);
                }
                if (!Known.TryGetValue(key, out var field))
                {
                    Labels.TryAdd(LabelName(key), LogRedaction.RedactValue(key, text));
                }
                else if (_written.Add(field.Name))
                {
                    if (field.Number && long.TryParse(text, CultureInfo.InvariantCulture, out var number))
                    {
                        json.WriteNumber(field.Name, number);
                    }
                    else
                    {
                        json.WriteString(field.Name, text);
                    }
                }
            }
        }

        // ECS label names hold no dots (they would become objects).
        private static string LabelName(string key) =>
            string.Create(key.Length, key, (span, k) =>
            {
                for (var i = 0; i < k.Length; i++)
                {
                    span[i] = char.IsAsciiLetterOrDigit(k[i]) || k[i] == '_' ? k[i] : '_';
                }
            });
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "error",
        LogLevel.Critical => "fatal",
        _ => "none",
    };
}
