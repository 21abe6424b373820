using System.Globalization;
using System.Text.Json.Nodes;
using Portico.Gateway.Caching;
using Portico.Gateway.Composition;
using Portico.Gateway.Jobs;
using Portico.Gateway.RateLimiting;
using Portico.Gateway.Transcoding;
using Portico.Gateway.Versioning;
using Yarp.ReverseProxy.Configuration;

namespace Portico.Gateway.OpenApi;

/// <summary>Everything the public document is made from: one version of the gateway file and the services' last documents.</summary>
internal sealed record MergeInput(
    IReadOnlyList<RouteConfig> Routes,
    IReadOnlyList<ClusterConfig> Clusters,
    IReadOnlyDictionary<string, JsonObject> Documents,
    OpenApiSettings Settings,
    CachingSettings? Caching = null,
    RateLimitingSettings? RateLimiting = null,
    CompositionSettings? Compositions = null,
    JobsSettings? Jobs = null,
    string JobStatusPath = "/api/jobs",
    TranscodingSettings? Transcoding = null,
    IReadOnlyDictionary<string, GrpcService>? GrpcServices = null,
    VersioningSettings? Versioning = null);

/// <summary>
/// Builds the public OpenAPI 3.1 document exactly as a client of the gateway sees it. Merged as JSON rather than through
/// an object model, so a service's schema travels unchanged apart from its <c>$ref</c>s; Microsoft.OpenApi's reader checks
/// the result (see <see cref="MergedOpenApi"/> and the tests).
/// <list type="bullet">
/// <item>Each route takes the operations of its cluster's document that it reaches: the service's path run backwards through
/// the route's transforms (<see cref="PublicPaths"/>), only the methods the route accepts; the first route in the file
/// claims a path and method, as the earlier-declared route of equal precedence does in YARP.</item>
/// <item>Security is the route's and the service's together: anonymous only where both let anyone in; a named gateway
/// policy is <c>x-portico-policy</c>, the service's roles stay in the requirement.</item>
/// <item>A route's cache and rate-limit policies are <c>x-portico-cache</c> and <c>x-portico-rate-limit</c>.</item>
/// <item>A route whose cluster publishes no document (gRPC passthrough, a service not reached yet) still appears, from
/// its own pattern and methods.</item>
/// <item>Transcoded gRPC methods are the gateway's own operations too, their schemas from the descriptors it has now
/// (<see cref="TranscodedOperations"/>); a path and method an earlier route claimed stays that route's.</item>
/// <item>A deprecated route's operations say so (<c>deprecated</c>, <c>x-portico-deprecation</c>, <c>x-portico-sunset</c>,
/// <c>x-portico-successor</c>) and list the <c>Deprecation</c>, <c>Sunset</c> and <c>Link</c> fields of their answers.</item>
/// <item>A route chosen by a request header (<c>Api-Version: 2</c>) on a path another route serves is a version of that
/// route's operation: the header as a parameter, the versions' schemas together, each version in <c>x-portico-versions</c>
/// (<see cref="HeaderVersions"/>).</item>
/// <item>Compositions and job routes are the gateway's own operations; routes naming a hidden policy (admin) are left out.</item>
/// </list>
/// </summary>
internal static class OpenApiMerger
{
    public const string BearerScheme = "Bearer";
    public const string ProblemSchema = "ProblemDetails";
    private const string SchemaPrefix = "#/components/schemas/";

    internal static readonly string[] HttpMethods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
    private static readonly string[] AnyMethod = ["get", "post", "put", "patch", "delete"];

    public static JsonObject Merge(MergeInput input)
    {
        var names = SchemaNames(input.Documents);
        var merged = new Merged(input, names);
        // Header-matched routes last: YARP prefers them when the header matches, and the route without a header match on
        // the same path serves the rest, so that one is the operation's default and each header route a version of it.
        var ordered = input.Routes.Select((r, i) => (Route: r, Index: i))
            .OrderBy(r => HeaderVersions.IsHeaderMatched(r.Route) ? 1 : 0).ThenBy(r => r.Route.Order ?? 0).ThenBy(r => r.Index).Select(r => r.Route);
        foreach (var route in ordered)
        {
            if (!IsHidden(input.Settings, route.AuthorizationPolicy))
            {
                merged.AddRoute(route);
            }
        }
        if (input.Transcoding is { } transcoding && input.GrpcServices is { } services)
        {
            // As the endpoints are built: the first route of a verb and pattern serves it, the others are skipped.
            var taken = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var entry in transcoding.Services)
            {
                if (!services.TryGetValue(entry.Name, out var service))
                {
                    continue; // no descriptors yet: nothing known to describe
                }
                foreach (var route in TranscodingRoutes.For(entry, service, new List<string>()))
                {
                    if (taken.Add(route.HttpMethod + " " + route.Pattern) && !IsHidden(input.Settings, entry.Options.AuthorizationPolicy))
                    {
                        merged.AddTranscoded(route);
                    }
                }
            }
        }
        foreach (var plan in input.Compositions?.Plans ?? [])
        {
            if (!IsHidden(input.Settings, plan.AuthorizationPolicy))
            {
                merged.AddComposition(plan);
            }
        }
        foreach (var job in input.Jobs?.Routes ?? [])
        {
            if (!IsHidden(input.Settings, job.AuthorizationPolicy))
            {
                merged.AddJob(job);
            }
        }
        if (input.Jobs?.Routes.Any(j => !IsHidden(input.Settings, j.AuthorizationPolicy)) == true)
        {
            merged.AddJobStatus(input.JobStatusPath);
        }
        return merged.ToDocument();
    }

    private static bool IsHidden(OpenApiSettings settings, string? policy) => policy is not null && settings.HiddenPolicies.Contains(policy);

    /// <summary>
    /// The merged name of each service's schema: its own where every service that has one means the same, else prefixed
    /// with the cluster (<c>catalog.Product</c>). Every service's problem details are the gateway's one schema.
    /// </summary>
    private static Dictionary<(string Cluster, string Name), string> SchemaNames(IReadOnlyDictionary<string, JsonObject> documents)
    {
        var byName = new Dictionary<string, List<(string Cluster, string Text)>>(StringComparer.Ordinal);
        foreach (var (cluster, document) in documents)
        {
            foreach (var (name, schema) in document["components"]?["schemas"] as JsonObject ?? [])
            {
                (byName.TryGetValue(name, out var list) ? list : byName[name] = []).Add((cluster, schema?.ToJsonString() ?? "null"));
            }
        }
        var names = new Dictionary<(string, string), string>();
        foreach (var (name, uses) in byName)
        {
            var shared = uses.Select(u => u.Text).Distinct(StringComparer.Ordinal).Count() == 1;
            foreach (var (cluster, _) in uses)
            {
                names[(cluster, name)] = name == ProblemSchema ? ProblemSchema : shared ? name : $"{cluster}.{name}";
            }
        }
        return names;
    }

    private sealed class Merged(MergeInput input, Dictionary<(string Cluster, string Name), string> names)
    {
        private readonly JsonObject _paths = [];
        private readonly JsonObject _schemas = new() { [ProblemSchema] = ProblemDetailsSchema() };
        private readonly Queue<(string Cluster, string Name)> _pendingSchemas = new();
        private readonly HashSet<string> _operationIds = new(StringComparer.Ordinal);
        private ProtoJsonSchemas? _protoSchemas;

        public void AddTranscoded(TranscodedRoute route)
        {
            _protoSchemas ??= new ProtoJsonSchemas(_schemas);
            if (TranscodedOperations.Describe(route, _protoSchemas) is not { } described || Claimed(described.Path, described.Method))
            {
                return;
            }
            var (path, method, operation) = described;
            Secure(operation, route.Entry.Options.AuthorizationPolicy);
            // The method's full name; its further bindings (and its convention route) are numbered from 2.
            var id = route.Method.FullName;
            for (var n = 2; _operationIds.Contains(id); n++)
            {
                id = $"{route.Method.FullName}.{n.ToString(CultureInfo.InvariantCulture)}";
            }
            operation["operationId"] = id;
            Add(path, method, operation, id);
        }

        public void AddRoute(RouteConfig route)
        {
            var methods = route.Match.Methods?.Select(m => m.ToLowerInvariant()).ToHashSet();
            var byHeader = HeaderVersions.IsHeaderMatched(route);
            var reached = false;
            if (input.Documents.GetValueOrDefault(route.ClusterId ?? "") is { } document)
            {
                foreach (var (servicePath, item) in document["paths"] as JsonObject ?? [])
                {
                    if (item is not JsonObject pathItem || PublicPaths.ToPublic(route, servicePath) is not { } publicPath)
                    {
                        continue;
                    }
                    foreach (var method in HttpMethods)
                    {
                        if (pathItem[method] is not JsonObject operation || (methods is not null && !methods.Contains(method)) || (Claimed(publicPath, method) && !byHeader))
                        {
                            continue;
                        }
                        var copy = (JsonObject)Rewrite(operation.DeepClone(), route.ClusterId!);
                        if (pathItem["parameters"] is JsonArray shared && copy["parameters"] is null)
                        {
                            copy["parameters"] = Rewrite(shared.DeepClone(), route.ClusterId!);
                        }
                        Describe(copy, route);
                        reached = true;
                        if (Claimed(publicPath, method))
                        {
                            HeaderVersions.Add((JsonObject)_paths[publicPath]![method]!, copy, route, servicePath);
                            continue;
                        }
                        if (byHeader)
                        {
                            HeaderVersions.Claim(copy, route, servicePath);
                        }
                        Add(publicPath, method, copy, $"{route.RouteId}.{method}");
                    }
                }
            }
            if (!reached)
            {
                AddUndocumented(route, methods);
            }
        }

        /// <summary>A route with nothing from its service: its own pattern and methods, its policies, and what it forwards to.</summary>
        private void AddUndocumented(RouteConfig route, HashSet<string>? methods)
        {
            var path = PublicPaths.Template(route);
            var cluster = input.Clusters.FirstOrDefault(c => c.ClusterId == route.ClusterId);
            var grpc = cluster?.HttpRequest?.Version?.Major == 2 && cluster.HttpRequest.VersionPolicy == System.Net.Http.HttpVersionPolicy.RequestVersionExact;
            var byHeader = HeaderVersions.IsHeaderMatched(route);
            foreach (var method in methods?.Where(m => m != "head") ?? AnyMethod)
            {
                if (Claimed(path, method) && !byHeader)
                {
                    continue;
                }
                var operation = new JsonObject
                {
                    ["tags"] = new JsonArray(route.ClusterId),
                    ["summary"] = grpc
                        ? $"gRPC passthrough to cluster '{route.ClusterId}' (HTTP/2: the gateway's h2c port)."
                        : $"Forwarded to cluster '{route.ClusterId}', which publishes no OpenAPI document (or has not been reached yet).",
                    ["parameters"] = new JsonArray([.. PublicPaths.Parameters(path).Select(PathParameter)]),
                };
                if (grpc)
                {
                    operation["requestBody"] = new JsonObject { ["required"] = true, ["content"] = new JsonObject { ["application/grpc"] = new JsonObject() } };
                    operation["responses"] = new JsonObject { ["200"] = new JsonObject { ["description"] = "A gRPC answer (see grpc-status).", ["content"] = new JsonObject { ["application/grpc"] = new JsonObject() } } };
                }
                else
                {
                    operation["responses"] = new JsonObject { ["default"] = new JsonObject { ["description"] = "The service's answer." } };
                }
                Describe(operation, route);
                if (Claimed(path, method))
                {
                    HeaderVersions.Add((JsonObject)_paths[path]![method]!, operation, route, null);
                    continue;
                }
                if (byHeader)
                {
                    HeaderVersions.Claim(operation, route, null);
                }
                Add(path, method, operation, $"{route.RouteId}.{method}");
            }
        }

        public void AddComposition(CompositionPlan plan)
        {
            var shape = input.Settings.Compositions.GetValueOrDefault(plan.Name);
            var expressions = plan.Expressions.Where(e => e.Root == "request" && e.Path.Length > 1).ToList();
            var parameters = new JsonArray();
            foreach (var name in expressions.Where(e => e.Path[0] == "query").Select(e => e.Path[1]).Distinct(StringComparer.Ordinal))
            {
                parameters.Add(new JsonObject { ["name"] = name, ["in"] = "query", ["required"] = false, ["schema"] = new JsonObject { ["type"] = "string" } });
            }
            foreach (var name in expressions.Where(e => e.Path[0] == "headers").Select(e => e.Path[1]).Distinct(StringComparer.OrdinalIgnoreCase))
            {
                parameters.Add(new JsonObject { ["name"] = name, ["in"] = "header", ["required"] = plan.Durable is not null, ["schema"] = new JsonObject { ["type"] = "string" } });
            }
            var operation = new JsonObject
            {
                ["tags"] = new JsonArray("Compositions"),
                ["summary"] = shape?.Summary ?? $"Composition '{plan.Name}': {string.Join(", ", plan.Steps.Select(s => s.Name))}.",
                ["parameters"] = parameters,
            };
            // The request's fields the templates read, where the gateway file declares no request schema.
            var request = shape?.Request ?? (plan.ReadsRequestBody
                ? new JsonObject
                {
                    ["type"] = "object",
                    ["properties"] = new JsonObject(expressions.Where(e => e.Path[0] == "body").Select(e => e.Path[1]).Distinct(StringComparer.Ordinal)
                        .Select(f => KeyValuePair.Create(f, (JsonNode?)new JsonObject()))),
                }
                : null);
            if (request is not null)
            {
                operation["requestBody"] = new JsonObject { ["required"] = true, ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = request.DeepClone() } } };
            }
            operation["responses"] = new JsonObject
            {
                ["200"] = new JsonObject
                {
                    ["description"] = "The composed answer.",
                    ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = shape?.Response?.DeepClone() ?? new JsonObject { ["type"] = "object" } } },
                },
            };
            operation["x-portico-composition"] = new JsonObject
            {
                ["steps"] = new JsonArray([.. plan.Steps.Select(s => JsonValue.Create(s.Name))]),
                ["durable"] = plan.Durable is not null,
                ["timeout"] = plan.Timeout.ToString("c", CultureInfo.InvariantCulture),
            };
            Secure(operation, plan.AuthorizationPolicy);
            Add(plan.Path, plan.Method.ToLowerInvariant(), operation, plan.Name);
        }

        public void AddJob(JobRoute job)
        {
            var properties = new JsonObject();
            foreach (var parameter in job.Parameters)
            {
                var schema = parameter.Type switch
                {
                    JobParameterType.Date => new JsonObject { ["type"] = "string", ["format"] = "date" },
                    JobParameterType.Integer => new JsonObject { ["type"] = "integer" },
                    JobParameterType.Boolean => new JsonObject { ["type"] = "boolean" },
                    _ => new JsonObject { ["type"] = "string" },
                };
                if (parameter.Values.Count > 0)
                {
                    schema["enum"] = new JsonArray([.. parameter.Values.Select(v => JsonValue.Create(v))]);
                }
                if (parameter.Min is { } min)
                {
                    schema["minimum"] = min;
                }
                if (parameter.Max is { } max)
                {
                    schema["maximum"] = max;
                }
                if (parameter.Default is { } value)
                {
                    schema["default"] = JsonNode.Parse(value.GetRawText());
                }
                properties[parameter.Name] = schema;
            }
            var operation = new JsonObject
            {
                ["tags"] = new JsonArray("Jobs"),
                ["summary"] = $"Starts the job '{job.Name}': 202 with the job's status URL in Location.",
                ["requestBody"] = new JsonObject
                {
                    ["required"] = false,
                    ["content"] = new JsonObject
                    {
                        ["application/json"] = new JsonObject
                        {
                            ["schema"] = new JsonObject
                            {
                                ["type"] = "object",
                                ["additionalProperties"] = false,
                                ["properties"] = properties,
                                ["required"] = new JsonArray([.. job.Parameters.Where(p => p.Required).Select(p => JsonValue.Create(p.Name))]),
                            },
                        },
                    },
                },
                ["responses"] = new JsonObject
                {
                    ["202"] = new JsonObject
                    {
                        ["description"] = "Accepted: the job is queued.",
                        ["headers"] = new JsonObject { ["Location"] = new JsonObject { ["description"] = "The job's status URL.", ["schema"] = new JsonObject { ["type"] = "string" } } },
                        ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = new JsonObject { ["type"] = "object" } } },
                    },
                },
                ["x-portico-job"] = new JsonObject { ["queue"] = job.Queue, ["maxAttempts"] = job.MaxAttempts },
            };
            Secure(operation, job.AuthorizationPolicy);
            Add(job.Path, job.Method.ToLowerInvariant(), operation, $"job.{job.Name}");
        }

        public void AddJobStatus(string statusPath)
        {
            var path = statusPath + "/{id}";
            foreach (var (method, summary) in new[] { ("get", "A job's status, for its owner."), ("delete", "Cancels a queued job of its owner.") })
            {
                var operation = new JsonObject
                {
                    ["tags"] = new JsonArray("Jobs"),
                    ["summary"] = summary,
                    ["parameters"] = new JsonArray(PathParameter("id")),
                    ["responses"] = new JsonObject
                    {
                        ["200"] = new JsonObject { ["description"] = "The job.", ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = new JsonObject { ["type"] = "object" } } } },
                        ["404"] = Problem("No such job of this caller."),
                    },
                };
                Secure(operation, null);
                Add(path, method, operation, $"job-status.{method}");
            }
        }

        /// <summary>The route's security, policies and behaviour on one of its operations.</summary>
        private void Describe(JsonObject operation, RouteConfig route)
        {
            Secure(operation, route.AuthorizationPolicy);
            operation["x-portico-route"] = route.RouteId;
            var responses = operation["responses"] as JsonObject ?? [];
            operation["responses"] = responses;
            if (input.Versioning?.DeprecationByRoute.GetValueOrDefault(route.RouteId) is { } deprecation)
            {
                Deprecate(operation, responses, deprecation);
            }
            if (input.Caching?.PolicyByRoute.GetValueOrDefault(route.RouteId) is { Policy: { } cache } named)
            {
                var extension = new JsonObject
                {
                    ["policy"] = named.Name,
                    ["mode"] = cache.Ttl is null ? "standard" : "override",
                    ["scope"] = cache.Scope.ToString().ToLowerInvariant(),
                };
                if (cache.Ttl is { } ttl)
                {
                    extension["ttl"] = Span(ttl);
                }
                if (cache.StaleWhileRevalidate > TimeSpan.Zero)
                {
                    extension["staleWhileRevalidate"] = Span(cache.StaleWhileRevalidate);
                }
                if (cache.StaleIfError > TimeSpan.Zero)
                {
                    extension["staleIfError"] = Span(cache.StaleIfError);
                }
                extension["tags"] = new JsonArray([.. cache.Tags.Select(t => JsonValue.Create(t))]);
                operation["x-portico-cache"] = extension;
            }
            if (input.RateLimiting?.PolicyByRoute.GetValueOrDefault(route.RouteId) is { } limit)
            {
                operation["x-portico-rate-limit"] = new JsonObject
                {
                    ["policy"] = limit.Name,
                    ["kind"] = limit.Options.Kind.ToString(),
                    ["permitLimit"] = limit.Options.PermitLimit,
                    ["window"] = Span(limit.Options.Window),
                    ["partitionBy"] = limit.Options.PartitionBy.ToString(),
                    ["shared"] = limit.Options.Shared,
                };
                responses.TryAdd("429", Problem("Too many requests from this caller; Retry-After says when to try again."));
            }
        }

        /// <summary>
        /// A deprecated route's operations: <c>deprecated</c> once a date is set (a future one announces it, as the
        /// <c>Deprecation</c> field does), the dates and the successor as extensions, and the fields every answer of the
        /// service through the route carries (<see cref="DeprecationTransformProvider"/>).
        /// </summary>
        private static void Deprecate(JsonObject operation, JsonObject responses, RouteDeprecation deprecation)
        {
            if (deprecation.DeprecatedAt is not null || deprecation.SunsetAt is not null)
            {
                operation["deprecated"] = true;
            }
            if (deprecation.DeprecatedAt is { } deprecated)
            {
                operation["x-portico-deprecation"] = Instant(deprecated);
            }
            if (deprecation.SunsetAt is { } sunset)
            {
                operation["x-portico-sunset"] = Instant(sunset);
            }
            if (deprecation.Successor is { } successor)
            {
                operation["x-portico-successor"] = successor;
            }
            var headers = new List<(string Name, string Value, string Description)>();
            if (deprecation.Deprecation is { } field)
            {
                headers.Add(("Deprecation", field, "When this version was (or will be) deprecated (RFC 9745)."));
            }
            if (deprecation.Sunset is { } sunsetField)
            {
                headers.Add(("Sunset", sunsetField, "When this version stops answering (RFC 8594)."));
            }
            if (deprecation.Link is { } link)
            {
                headers.Add(("Link", link, "The version that replaces this one (rel=\"successor-version\")."));
            }
            foreach (var (status, response) in responses)
            {
                if (response is not JsonObject answer || answer.ContainsKey("$ref") || !(status.StartsWith('2') || status.StartsWith('3')))
                {
                    continue;
                }
                var fields = answer["headers"] as JsonObject ?? [];
                answer["headers"] = fields;
                foreach (var (name, value, description) in headers)
                {
                    fields[name] = new JsonObject { ["description"] = description, ["schema"] = new JsonObject { ["type"] = "string" }, ["example"] = value };
                }
            }
        }

        private static string Instant(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

        /// <summary>
        /// Anonymous only where the gateway and the service both let anyone in. The requirement keeps the service's roles;
        /// a gateway policy other than the default is named in <c>x-portico-policy</c>.
        /// </summary>
        private static void Secure(JsonObject operation, string? policy)
        {
            var service = operation["security"] as JsonArray;
            var roles = service?.OfType<JsonObject>().SelectMany(r => r.Select(p => p.Value)).OfType<JsonArray>().SelectMany(a => a)
                .Select(v => v?.GetValue<string>()).OfType<string>().Distinct(StringComparer.Ordinal).ToList() ?? [];
            var serviceRequires = service?.OfType<JsonObject>().Any(r => r.Count > 0) == true;
            var gatewayAnonymous = string.Equals(policy, "anonymous", StringComparison.OrdinalIgnoreCase);
            var responses = operation["responses"] as JsonObject ?? [];
            operation["responses"] = responses;
            if (gatewayAnonymous && !serviceRequires)
            {
                operation["security"] = new JsonArray();
                return;
            }
            operation["security"] = new JsonArray(new JsonObject { [BearerScheme] = new JsonArray([.. roles.Select(r => JsonValue.Create(r))]) });
            responses.TryAdd("401", Problem("No valid access token."));
            if (policy is not null && !gatewayAnonymous && !string.Equals(policy, "default", StringComparison.OrdinalIgnoreCase))
            {
                operation["x-portico-policy"] = policy;
                responses.TryAdd("403", Problem($"The caller does not satisfy the gateway's '{policy}' policy."));
            }
        }

        private bool Claimed(string path, string method) => _paths[path] is JsonObject item && item.ContainsKey(method);

        private void Add(string path, string method, JsonObject operation, string fallbackId)
        {
            var id = operation["operationId"]?.GetValue<string>() ?? fallbackId;
            for (var n = 2; !_operationIds.Add(id); n++)
            {
                id = $"{fallbackId}{(n == 2 ? "" : n.ToString(CultureInfo.InvariantCulture))}";
            }
            operation["operationId"] = id;
            if (operation["responses"] is JsonObject responses)
            {
                responses.TryAdd("default", Problem("An error, described by RFC 9457 problem details (the gateway's own: 404, 413, 502, 503, 504 …)."));
            }
            if (_paths[path] is not JsonObject item)
            {
                _paths[path] = item = [];
            }
            item[method] = operation;
        }

        /// <summary>The copy with each schema <c>$ref</c> renamed to the merged component, which is then included.</summary>
        private JsonNode Rewrite(JsonNode node, string cluster)
        {
            switch (node)
            {
                case JsonObject obj:
                    foreach (var (key, value) in obj.ToList())
                    {
                        if (key == "$ref" && value is JsonValue reference && reference.GetValue<string>() is { } target && target.StartsWith(SchemaPrefix, StringComparison.Ordinal))
                        {
                            var name = target[SchemaPrefix.Length..];
                            var merged = names.GetValueOrDefault((cluster, name), name);
                            obj[key] = SchemaPrefix + merged;
                            if (!_schemas.ContainsKey(merged))
                            {
                                _schemas[merged] = null;
                                _pendingSchemas.Enqueue((cluster, name));
                            }
                        }
                        else if (value is not null)
                        {
                            Rewrite(value, cluster);
                        }
                    }
                    break;
                case JsonArray array:
                    foreach (var item in array)
                    {
                        if (item is not null)
                        {
                            Rewrite(item, cluster);
                        }
                    }
                    break;
            }
            return node;
        }

        public JsonObject ToDocument()
        {
            // Only the schemas the public operations reach, each once, with the schemas they reach in turn.
            while (_pendingSchemas.TryDequeue(out var pending))
            {
                var source = input.Documents[pending.Cluster]["components"]?["schemas"]?[pending.Name];
                _schemas[names[pending]] = source is null ? new JsonObject() : Rewrite(source.DeepClone(), pending.Cluster);
            }
            var sortedPaths = new JsonObject(_paths.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone())));
            var sortedSchemas = new JsonObject(_schemas.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone())));
            return new JsonObject
            {
                ["openapi"] = "3.1.1",
                ["info"] = new JsonObject
                {
                    ["title"] = input.Settings.Title,
                    ["version"] = input.Settings.Version,
                    ["description"] = "The public API as a client of the gateway sees it, merged from each service's own document and the gateway file.",
                },
                ["paths"] = sortedPaths,
                ["components"] = new JsonObject
                {
                    ["schemas"] = sortedSchemas,
                    ["securitySchemes"] = new JsonObject
                    {
                        [BearerScheme] = new JsonObject
                        {
                            ["type"] = "http",
                            ["scheme"] = "bearer",
                            ["bearerFormat"] = "JWT",
                            ["description"] = "An access token from POST /api/auth/token, in the Authorization header.",
                        },
                    },
                },
            };
        }
    }

    private static JsonObject PathParameter(string name) =>
        new() { ["name"] = name, ["in"] = "path", ["required"] = true, ["schema"] = new JsonObject { ["type"] = "string" } };

    private static JsonObject Problem(string description) => new()
    {
        ["description"] = description,
        ["content"] = new JsonObject { ["application/problem+json"] = new JsonObject { ["schema"] = new JsonObject { ["$ref"] = SchemaPrefix + ProblemSchema } } },
    };

    private static string Span(TimeSpan value) => value.ToString("c", CultureInfo.InvariantCulture);

    /// <summary>RFC 9457 problem details: every error answer of the gateway and of the services behind it.</summary>
    private static JsonObject ProblemDetailsSchema() => new()
    {
        ["type"] = "object",
        ["description"] = "RFC 9457 problem details; validation problems add errors (field → messages).",
        ["properties"] = new JsonObject
        {
            ["type"] = new JsonObject { ["type"] = new JsonArray("null", "string") },
            ["title"] = new JsonObject { ["type"] = new JsonArray("null", "string") },
            ["status"] = new JsonObject { ["type"] = new JsonArray("null", "integer") },
            ["detail"] = new JsonObject { ["type"] = new JsonArray("null", "string") },
            ["instance"] = new JsonObject { ["type"] = new JsonArray("null", "string") },
            ["errors"] = new JsonObject { ["type"] = "object", ["additionalProperties"] = new JsonObject { ["type"] = "array", ["items"] = new JsonObject { ["type"] = "string" } } },
        },
    };
}
