using System.Text;
using Google.Api;
using Google.Protobuf.Reflection;

namespace Portico.Gateway.Transcoding;

/// <summary>A path variable of an HTTP rule: the field it sets, and its value made of route parameters and literal segments.</summary>
internal sealed record PathVariable(string Field, IReadOnlyList<string> Parts)
{
    /// <summary>The parts that are route parameters (named <c>pN</c>), as opposed to literal segments.</summary>
    public static bool IsParameter(string part) => part.StartsWith('{');
}

/// <summary>One REST route of a gRPC method: from a <c>google.api.http</c> rule (or one of its additional bindings) or the convention.</summary>
internal sealed record TranscodedRoute(string HttpMethod, string Pattern, IReadOnlyList<PathVariable> Variables, string? Body, string? ResponseBody,
    MethodDescriptor Method, GrpcService Service, TranscodedService Entry);

/// <summary>
/// Turns the HTTP rules of a service's methods into ASP.NET Core route patterns, as Envoy's transcoder reads them: every
/// verb, <c>body: "*"</c> or a message field, <c>response_body</c>, <c>additional_bindings</c>, and path templates with
/// <c>{field}</c>, <c>{field=literal/*/…}</c>, <c>*</c>, <c>**</c> and a custom verb (<c>/v1/things/{id}:archive</c>). A rule
/// Portico cannot serve (a variable naming no field, a verb after <c>**</c>) is skipped with the reason, never guessed at.
/// </summary>
internal static class TranscodingRoutes
{
    public static List<TranscodedRoute> For(TranscodedService entry, GrpcService service, ICollection<string> skipped)
    {
        var routes = new List<TranscodedRoute>();
        foreach (var method in service.Descriptor.Methods)
        {
            if (method.IsClientStreaming)
            {
                continue;
            }
            if (method.GetOptions()?.GetExtension(AnnotationsExtensions.Http) is { } rule)
            {
                foreach (var binding in new[] { rule }.Concat(rule.AdditionalBindings))
                {
                    if (FromRule(binding, method, service, entry, out var why) is { } route)
                    {
                        routes.Add(route);
                    }
                    else
                    {
                        skipped.Add($"{method.FullName}: {why}");
                    }
                }
            }
            if (entry.Options.ConventionRoutes)
            {
                routes.Add(new TranscodedRoute("POST", $"/{service.Descriptor.FullName}/{method.Name}", [], "*", null, method, service, entry));
            }
        }
        return routes;
    }

    private static TranscodedRoute? FromRule(HttpRule rule, MethodDescriptor method, GrpcService service, TranscodedService entry, out string why)
    {
        var (verb, template) = rule.PatternCase switch
        {
            HttpRule.PatternOneofCase.Get => ("GET", rule.Get),
            HttpRule.PatternOneofCase.Post => ("POST", rule.Post),
            HttpRule.PatternOneofCase.Put => ("PUT", rule.Put),
            HttpRule.PatternOneofCase.Delete => ("DELETE", rule.Delete),
            HttpRule.PatternOneofCase.Patch => ("PATCH", rule.Patch),
            HttpRule.PatternOneofCase.Custom => (rule.Custom.Kind, rule.Custom.Path),
            _ => ("", ""),
        };
        if (verb.Length == 0)
        {
            why = "the rule has no pattern";
            return null;
        }
        var body = rule.Body is { Length: > 0 } b ? b : null;
        if (body is not null && body != "*" && method.InputType.FindFieldByName(body) is not { IsRepeated: false, FieldType: FieldType.Message })
        {
            why = $"body \"{body}\" is not a message field of {method.InputType.FullName}";
            return null;
        }
        var responseBody = rule.ResponseBody is { Length: > 0 } r ? r : null;
        if (responseBody is not null && method.OutputType.FindFieldByName(responseBody) is null)
        {
            why = $"response_body \"{responseBody}\" is not a field of {method.OutputType.FullName}";
            return null;
        }
        if (Pattern(template, method.InputType, out var variables, out why) is not { } pattern)
        {
            return null;
        }
        return new TranscodedRoute(verb, pattern, variables, body, responseBody, method, service, entry);
    }

    /// <summary>
    /// The route pattern of a path template: <c>/v1/{name=shelves/*}/books</c> becomes <c>/v1/shelves/{p0}/books</c>, and
    /// the variable <c>name</c> is <c>"shelves/" + p0</c>. <c>**</c> becomes a catch-all, which must be last.
    /// </summary>
    internal static string? Pattern(string template, MessageDescriptor input, out List<PathVariable> variables, out string why)
    {
        variables = [];
        why = "";
        if (!template.StartsWith('/'))
        {
            why = $"path '{template}' does not start with '/'";
            return null;
        }
        // Template = "/" Segments [ Verb ], Verb = ":" LITERAL: a colon after the last segment's start and after the last
        // variable begins the verb (a colon inside a literal segment before that is part of the segment).
        string? verb = null;
        var colon = template.LastIndexOf(':');
        if (colon > template.LastIndexOf('/') && colon > template.LastIndexOf('}'))
        {
            verb = template[(colon + 1)..];
            if (verb.Length == 0 || verb.AsSpan().IndexOfAny("{}*=") >= 0)
            {
                why = $"path '{template}' has an invalid custom verb ':{verb}'";
                return null;
            }
            template = template[..colon];
        }
        var pattern = new StringBuilder();
        var parameters = 0;
        var rest = template.AsSpan(1);
        while (rest.Length > 0)
        {
            string segment;
            if (rest[0] == '{')
            {
                var close = rest.IndexOf('}');
                if (close < 0)
                {
                    why = $"path '{template}' has an unclosed variable";
                    return null;
                }
                var inside = rest[1..close].ToString();
                rest = rest[(close + 1)..];
                if (rest.Length > 0 && rest[0] != '/')
                {
                    why = $"path '{template}' has a variable that is not a whole segment";
                    return null;
                }
                var equals = inside.IndexOf('=');
                var field = equals < 0 ? inside : inside[..equals];
                var shape = equals < 0 ? "*" : inside[(equals + 1)..];
                if (!IsScalarPath(input, field))
                {
                    why = $"variable '{field}' is not a singular scalar field of {input.FullName}";
                    return null;
                }
                var parts = new List<string>();
                foreach (var part in shape.Split('/'))
                {
                    var routePart = part switch
                    {
                        "*" => "{p" + parameters++ + "}",
                        "**" => "{**p" + parameters++ + "}",
                        _ => part,
                    };
                    pattern.Append('/').Append(routePart);
                    parts.Add(routePart.Replace("**", "", StringComparison.Ordinal));
                }
                variables.Add(new PathVariable(field, parts));
            }
            else
            {
                var slash = rest.IndexOf('/');
                segment = (slash < 0 ? rest : rest[..slash]).ToString();
                rest = slash < 0 ? [] : rest[slash..];
                if (segment is not ("*" or "**") && (segment.Length == 0 || segment.AsSpan().IndexOfAny("{}=*") >= 0))
                {
                    // Segment = "*" | "**" | LITERAL | Variable: a variable or a wildcard is a whole segment.
                    why = $"path '{template}' has a segment '{segment}' that is neither a literal, '*', '**' nor a variable";
                    return null;
                }
                pattern.Append('/').Append(segment switch
                {
                    "*" => "{p" + parameters++ + "}",
                    "**" => "{**p" + parameters++ + "}",
                    _ => segment,
                });
            }
            if (rest.Length > 0 && rest[0] == '/')
            {
                rest = rest[1..];
            }
        }
        var text = pattern.Length == 0 ? "/" : pattern.ToString();
        var catchAll = text.IndexOf("{**", StringComparison.Ordinal);
        if (catchAll >= 0 && text.IndexOf('}', catchAll) != text.Length - 1)
        {
            why = $"path '{template}' has '**' before its end";
            return null;
        }
        if (verb is not null)
        {
            if (catchAll >= 0 || text == "/")
            {
                // A catch-all parameter cannot share its segment with a literal in ASP.NET Core routing.
                why = $"path '{template}:{verb}' has a custom verb after '**' or after no segment, which Portico does not serve";
                return null;
            }
            // The last segment becomes a complex one, "{p0}:archive" or "things:batchGet": the verb must be there, and
            // the parameter before it takes only what comes before the verb.
            text += ":" + verb;
        }
        return text;
    }

    private static bool IsScalarPath(MessageDescriptor input, string path)
    {
        var type = input;
        var segments = path.Split('.');
        for (var i = 0; i < segments.Length; i++)
        {
            if (type.FindFieldByName(segments[i]) is not { IsRepeated: false } field)
            {
                return false;
            }
            if (i == segments.Length - 1)
            {
                return field.FieldType is not (FieldType.Message or FieldType.Group)
                    || GrpcJsonType.For(field.MessageType).Kind is WellKnownType.Timestamp or WellKnownType.Duration or WellKnownType.Wrapper or WellKnownType.FieldMask;
            }
            if (field.FieldType != FieldType.Message)
            {
                return false;
            }
            type = field.MessageType;
        }
        return false;
    }
}
