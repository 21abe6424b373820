using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Google.Protobuf.Reflection;
using Portico.Gateway.Transcoding;

namespace Portico.Gateway.OpenApi;

/// <summary>
/// The OpenAPI operation of one transcoded route (<see cref="TranscodingRoutes"/>), as the gateway serves it: the rule's
/// verb and path, each path variable a parameter named by its field (<c>{shelf}</c>, not the route's <c>{p0}</c>), the
/// request message's other fields as query parameters (unless <c>body: "*"</c>), the body (the whole message or the
/// one field) and the reply (the whole message or its <c>response_body</c> field; a server stream as one JSON value per
/// line, or an array) in proto3 JSON (<see cref="ProtoJsonSchemas"/>).
/// </summary>
internal static partial class TranscodedOperations
{
    /// <summary>How deep query parameters reach into nested messages (<c>filter.owner.id</c>).</summary>
    private const int MaxQueryDepth = 3;

    public static (string Path, string Method, JsonObject Operation)? Describe(TranscodedRoute route, ProtoJsonSchemas schemas)
    {
        var method = route.HttpMethod.ToLowerInvariant();
        if (!OpenApiMerger.HttpMethods.Contains(method))
        {
            return null; // a custom verb OpenAPI has no place for
        }
        var input = route.Method.InputType;
        var parameters = new JsonArray();
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        var bound = new HashSet<string>(StringComparer.Ordinal);
        foreach (var variable in route.Variables)
        {
            bound.Add(variable.Field);
            var (field, jsonPath) = FieldAt(input, variable.Field);
            var parts = variable.Parts.Where(PathVariable.IsParameter).ToList();
            for (var i = 0; i < parts.Count; i++)
            {
                names[parts[i][1..^1]] = parts.Count == 1 ? jsonPath : $"{jsonPath}.{i + 1}";
            }
            for (var i = 0; i < parts.Count; i++)
            {
                var name = names[parts[i][1..^1]];
                var whole = variable.Parts.Count == 1;
                var parameter = new JsonObject
                {
                    ["name"] = name,
                    ["in"] = "path",
                    ["required"] = true,
                    ["schema"] = whole && field is not null ? schemas.Text(field) : new JsonObject { ["type"] = "string" },
                };
                if (!whole)
                {
                    parameter["description"] = $"Part of {jsonPath}, which is {string.Join("/", variable.Parts.Select(p => PathVariable.IsParameter(p) ? "{" + names.GetValueOrDefault(p[1..^1], "*") + "}" : p))}.";
                }
                parameters.Add(parameter);
            }
        }
        var path = RouteParameter().Replace(route.Pattern, match =>
        {
            var name = match.Groups["name"].Value;
            if (!names.ContainsKey(name))
            {
                // A wildcard segment of the template that sets no field.
                names[name] = name;
                parameters.Add(new JsonObject { ["name"] = name, ["in"] = "path", ["required"] = true, ["schema"] = new JsonObject { ["type"] = "string" }, ["description"] = "Any segment; it sets no field." });
            }
            return "{" + names[name] + "}";
        });
        if (route.Body != "*")
        {
            AddQuery(parameters, input, "", "", route.Body, bound, schemas, 0, [input.FullName]);
        }

        var comment = ProtoJsonSchemas.Comment(route.Method.Declaration);
        var operation = new JsonObject
        {
            ["tags"] = new JsonArray(route.Service.Descriptor.FullName),
            ["summary"] = comment?.Split('\n')[0].Trim() ?? $"{route.Method.Name} of gRPC service {route.Service.Descriptor.FullName}, as JSON.",
            ["parameters"] = parameters,
        };
        if (comment is not null)
        {
            operation["description"] = comment;
        }
        if (route.Body is { } body)
        {
            var schema = body == "*" ? schemas.Message(input) : schemas.Message(input.FindFieldByName(body).MessageType);
            operation["requestBody"] = new JsonObject
            {
                ["required"] = true,
                ["description"] = body == "*" ? $"{input.FullName} in proto3 JSON." : $"The field {input.FindFieldByName(body).JsonName} of {input.FullName}, in proto3 JSON.",
                ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = schema } },
            };
        }
        var output = route.Method.OutputType;
        var responseField = route.ResponseBody is { } named ? output.FindFieldByName(named) : null;
        var reply = responseField is not null ? schemas.Field(responseField) : schemas.Message(output);
        var what = responseField is not null ? $"The field {responseField.JsonName} of {output.FullName}" : output.FullName;
        JsonObject content;
        if (!route.Method.IsServerStreaming)
        {
            content = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = reply } };
        }
        else if (route.Entry.Options.Streaming == "array")
        {
            what = $"A stream of {what}, as one JSON array";
            content = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = new JsonObject { ["type"] = "array", ["items"] = reply } } };
        }
        else
        {
            what = $"A stream of {what}, one JSON value per line (an error after the first ends it with a line {{\"error\": …}})";
            content = new JsonObject { ["application/x-ndjson"] = new JsonObject { ["schema"] = reply } };
        }
        operation["responses"] = new JsonObject
        {
            ["200"] = new JsonObject { ["description"] = what + " in proto3 JSON.", ["content"] = content },
            ["400"] = Problem("The JSON or a path or query value does not fit the request message (errors names the field), or the service answered INVALID_ARGUMENT."),
            ["503"] = Problem("The service is unavailable, or the gateway has no descriptors for it yet (Retry-After)."),
        };
        var grpc = new JsonObject
        {
            ["method"] = route.Method.FullName,
            ["cluster"] = route.Entry.Cluster,
            ["descriptors"] = route.Service.Source,
        };
        if (route.Body is not null)
        {
            grpc["body"] = route.Body;
        }
        if (route.ResponseBody is not null)
        {
            grpc["responseBody"] = route.ResponseBody;
        }
        if (route.Method.IsServerStreaming)
        {
            grpc["streaming"] = route.Entry.Options.Streaming ?? "ndjson";
        }
        operation["x-portico-grpc"] = grpc;
        if (route.Method.GetOptions()?.Deprecated == true || route.Service.Descriptor.GetOptions()?.Deprecated == true)
        {
            operation["deprecated"] = true;
        }
        return (path, method, operation);
    }

    /// <summary>
    /// The fields a query parameter may set: every field the path does not, but for the body field; nested messages by
    /// dotted names. Maps, <c>Struct</c>, <c>ListValue</c>, <c>Any</c> and repeated messages cannot be written as text.
    /// </summary>
    private static void AddQuery(JsonArray parameters, MessageDescriptor type, string protoPrefix, string jsonPrefix, string? body,
        HashSet<string> bound, ProtoJsonSchemas schemas, int depth, HashSet<string> visiting)
    {
        foreach (var field in type.Fields.InFieldNumberOrder())
        {
            var protoPath = protoPrefix + field.Name;
            if (bound.Contains(protoPath) || (depth == 0 && field.Name == body) || field.IsMap)
            {
                continue;
            }
            if (field.FieldType is FieldType.Message or FieldType.Group)
            {
                var kind = GrpcJsonType.For(field.MessageType).Kind;
                if (kind == WellKnownType.None)
                {
                    if (!field.IsRepeated && depth + 1 < MaxQueryDepth && visiting.Add(field.MessageType.FullName))
                    {
                        AddQuery(parameters, field.MessageType, protoPath + ".", jsonPrefix + field.JsonName + ".", body, bound, schemas, depth + 1, visiting);
                        visiting.Remove(field.MessageType.FullName);
                    }
                    continue;
                }
                if (kind is not (WellKnownType.Timestamp or WellKnownType.Duration or WellKnownType.Wrapper or WellKnownType.FieldMask))
                {
                    continue;
                }
            }
            var parameter = new JsonObject
            {
                ["name"] = jsonPrefix + field.JsonName,
                ["in"] = "query",
                ["required"] = false,
                ["schema"] = schemas.Text(field),
            };
            if (field.IsRepeated)
            {
                parameter["style"] = "form";
                parameter["explode"] = true;
            }
            if (ProtoJsonSchemas.Comment(field.Declaration) is { } comment)
            {
                parameter["description"] = comment;
            }
            parameters.Add(parameter);
        }
    }

    /// <summary>The field at a dotted proto path (<c>thing.id</c>) and its JSON path (<c>thing.id</c> in lowerCamel).</summary>
    private static (FieldDescriptor? Field, string JsonPath) FieldAt(MessageDescriptor input, string path)
    {
        MessageDescriptor? type = input;
        FieldDescriptor? field = null;
        var json = new List<string>();
        foreach (var segment in path.Split('.'))
        {
            field = type?.FindFieldByName(segment);
            if (field is null)
            {
                return (null, path);
            }
            json.Add(field.JsonName);
            type = field.FieldType == FieldType.Message ? field.MessageType : null;
        }
        return (field, string.Join('.', json));
    }

    private static JsonObject Problem(string description) => new()
    {
        ["description"] = description,
        ["content"] = new JsonObject { ["application/problem+json"] = new JsonObject { ["schema"] = new JsonObject { ["$ref"] = "#/components/schemas/" + OpenApiMerger.ProblemSchema } } },
    };

    /// <summary>A route parameter of a transcoded pattern: <c>{p0}</c> or the catch-all <c>{**p1}</c>.</summary>
    [GeneratedRegex(@"\{(\*\*)?(?<name>[^}]+)\}")]
    private static partial Regex RouteParameter();
}
