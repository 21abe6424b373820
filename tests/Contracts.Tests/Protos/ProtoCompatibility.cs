using Google.Api;
using Google.Protobuf.Reflection;

namespace Portico.Contracts.Tests.Protos;

/// <summary>
/// What in the current <c>.proto</c> descriptors breaks a client or server built from the baseline, on the wire or in the
/// proto3 JSON mapping the gateway transcodes with: a removed message, field, enum, enum value, service or method; a field
/// renumbered, renamed (its JSON name), retyped, relabelled or moved in or out of a oneof; an enum value renamed; a method's
/// request or response type or streaming changed; a method's HTTP binding (<c>google.api.http</c>) changed or removed.
/// Anything added passes. Elements are matched by full name, fields and enum values by number (then by name, to tell a
/// renumbering from a removal). Written here because <c>buf breaking</c> is a binary that cannot be installed; its FILE
/// and WIRE_JSON rules are the model.
/// </summary>
public static class ProtoCompatibility
{
    /// <summary>Each breaking change, naming the element (<c>loyalty.v1.LedgerEntry.points</c>).</summary>
    public static IReadOnlyList<string> BreakingChanges(IEnumerable<FileDescriptor> baseline, IEnumerable<FileDescriptor> current)
    {
        var changes = new List<string>();
        var before = Index(baseline);
        var after = Index(current);

        foreach (var (name, old) in before.Messages)
        {
            if (after.Messages.TryGetValue(name, out var now))
            {
                CompareMessage(old, now, changes);
            }
            else
            {
                changes.Add($"message {name} was removed.");
            }
        }
        foreach (var (name, old) in before.Enums)
        {
            if (after.Enums.TryGetValue(name, out var now))
            {
                CompareEnum(old, now, changes);
            }
            else
            {
                changes.Add($"enum {name} was removed.");
            }
        }
        foreach (var (name, old) in before.Services)
        {
            if (after.Services.TryGetValue(name, out var now))
            {
                CompareService(old, now, changes);
            }
            else
            {
                changes.Add($"service {name} was removed.");
            }
        }
        return changes;
    }

    private static void CompareMessage(MessageDescriptor old, MessageDescriptor now, List<string> changes)
    {
        var byNumber = now.Fields.InFieldNumberOrder().ToDictionary(f => f.FieldNumber);
        foreach (var field in old.Fields.InFieldNumberOrder())
        {
            var at = $"{old.FullName}.{field.Name}";
            if (!byNumber.TryGetValue(field.FieldNumber, out var next))
            {
                changes.Add(now.FindFieldByName(field.Name) is { } moved
                    ? $"field {at} was renumbered from {field.FieldNumber} to {moved.FieldNumber}."
                    : $"field {at} ({field.FieldNumber}) was removed; reserve its number and name, or publish a new package version.");
                continue;
            }
            if (next.Name != field.Name || next.JsonName != field.JsonName)
            {
                changes.Add($"field {at} ({field.FieldNumber}) was renamed to {next.Name}; its JSON name changes from {field.JsonName} to {next.JsonName}.");
            }
            if (TypeOf(field) != TypeOf(next))
            {
                changes.Add($"field {at} changed type from {TypeOf(field)} to {TypeOf(next)}.");
            }
            if (LabelOf(field) != LabelOf(next))
            {
                changes.Add($"field {at} changed label from {LabelOf(field)} to {LabelOf(next)}.");
            }
            if (field.RealContainingOneof?.Name != next.RealContainingOneof?.Name)
            {
                changes.Add($"field {at} moved from {OneofOf(field)} to {OneofOf(next)}.");
            }
        }
    }

    private static void CompareEnum(EnumDescriptor old, EnumDescriptor now, List<string> changes)
    {
        foreach (var value in old.Values)
        {
            var at = $"{old.FullName}.{value.Name}";
            if (now.FindValueByNumber(value.Number) is not { } next)
            {
                changes.Add($"enum value {at} ({value.Number}) was removed.");
            }
            else if (next.Name != value.Name)
            {
                // JSON carries enum values by name.
                changes.Add($"enum value {at} ({value.Number}) was renamed to {next.Name}.");
            }
        }
    }

    private static void CompareService(ServiceDescriptor old, ServiceDescriptor now, List<string> changes)
    {
        foreach (var method in old.Methods)
        {
            var at = $"{old.FullName}.{method.Name}";
            if (now.FindMethodByName(method.Name) is not { } next)
            {
                changes.Add($"method {at} was removed.");
                continue;
            }
            if (method.InputType.FullName != next.InputType.FullName)
            {
                changes.Add($"method {at} changed its request type from {method.InputType.FullName} to {next.InputType.FullName}.");
            }
            if (method.OutputType.FullName != next.OutputType.FullName)
            {
                changes.Add($"method {at} changed its response type from {method.OutputType.FullName} to {next.OutputType.FullName}.");
            }
            if (method.IsClientStreaming != next.IsClientStreaming || method.IsServerStreaming != next.IsServerStreaming)
            {
                changes.Add($"method {at} changed streaming from {Streaming(method)} to {Streaming(next)}.");
            }
            // The binding is the REST contract the gateway transcodes: its clients know the verb and the path.
            if (HttpBinding(method) is { } binding && binding != HttpBinding(next))
            {
                changes.Add($"method {at} changed its HTTP binding from {binding} to {HttpBinding(next) ?? "none"}.");
            }
        }
    }

    private static string TypeOf(FieldDescriptor field) => field.FieldType switch
    {
        _ when field.IsMap => $"map<{TypeOf(field.MessageType.FindFieldByNumber(1))}, {TypeOf(field.MessageType.FindFieldByNumber(2))}>",
        FieldType.Message or FieldType.Group => field.MessageType.FullName,
        FieldType.Enum => field.EnumType.FullName,
        var type => type.ToString().ToLowerInvariant(),
    };

    private static string LabelOf(FieldDescriptor field)
    {
        var proto = field.ToProto();
        return proto.Proto3Optional ? "optional" : proto.Label switch
        {
            FieldDescriptorProto.Types.Label.Repeated => "repeated",
            FieldDescriptorProto.Types.Label.Required => "required",
            _ => "singular",
        };
    }

    private static string OneofOf(FieldDescriptor field) => field.RealContainingOneof is { } oneof ? $"oneof {oneof.Name}" : "no oneof";

    private static string Streaming(MethodDescriptor method) => (method.IsClientStreaming, method.IsServerStreaming) switch
    {
        (false, false) => "unary",
        (true, false) => "client streaming",
        (false, true) => "server streaming",
        _ => "bidirectional streaming",
    };

    private static string? HttpBinding(MethodDescriptor method)
    {
        if (method.GetOptions()?.GetExtension(AnnotationsExtensions.Http) is not { } rule)
        {
            return null;
        }
        var (verb, path) = rule.PatternCase switch
        {
            HttpRule.PatternOneofCase.Get => ("GET", rule.Get),
            HttpRule.PatternOneofCase.Put => ("PUT", rule.Put),
            HttpRule.PatternOneofCase.Post => ("POST", rule.Post),
            HttpRule.PatternOneofCase.Delete => ("DELETE", rule.Delete),
            HttpRule.PatternOneofCase.Patch => ("PATCH", rule.Patch),
            HttpRule.PatternOneofCase.Custom => (rule.Custom.Kind, rule.Custom.Path),
            _ => ("?", ""),
        };
        return string.IsNullOrEmpty(rule.Body) ? $"{verb} {path}" : $"{verb} {path} (body {rule.Body})";
    }

    private static Elements Index(IEnumerable<FileDescriptor> files)
    {
        var elements = new Elements();
        foreach (var file in files)
        {
            foreach (var message in file.MessageTypes)
            {
                AddMessage(message, elements);
            }
            foreach (var type in file.EnumTypes)
            {
                elements.Enums[type.FullName] = type;
            }
            foreach (var service in file.Services)
            {
                elements.Services[service.FullName] = service;
            }
        }
        return elements;
    }

    private static void AddMessage(MessageDescriptor message, Elements elements)
    {
        // Map fields' entry types are generated; their key and value are compared as the map field's type.
        if (message.GetOptions()?.MapEntry == true)
        {
            return;
        }
        elements.Messages[message.FullName] = message;
        foreach (var nested in message.NestedTypes)
        {
            AddMessage(nested, elements);
        }
        foreach (var type in message.EnumTypes)
        {
            elements.Enums[type.FullName] = type;
        }
    }

    private sealed class Elements
    {
        public Dictionary<string, MessageDescriptor> Messages { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, EnumDescriptor> Enums { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, ServiceDescriptor> Services { get; } = new(StringComparer.Ordinal);
    }
}
