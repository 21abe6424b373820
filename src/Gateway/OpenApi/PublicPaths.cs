using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.AspNetCore.Routing.Template;
using Yarp.ReverseProxy.Configuration;

namespace Portico.Gateway.OpenApi;

/// <summary>
/// Where a service's operation is reached through a route: the service's path (an OpenAPI template such as
/// <c>/api/products/{id}</c>) run backwards through the route's path transforms, then checked against the route's own
/// pattern. <c>/complete</c> of Autocomplete behind <c>"Path": "/api/autocomplete"</c> and <c>PathSet /complete</c> is
/// <c>/api/autocomplete</c>; a path the route cannot produce is not reached through it.
/// </summary>
internal static class PublicPaths
{
    /// <summary>The public path of <paramref name="servicePath"/> through <paramref name="route"/>, or null when the route does not lead there.</summary>
    public static string? ToPublic(RouteConfig route, string servicePath)
    {
        if (route.Match.Path is not { } template)
        {
            return null;
        }
        var pattern = RoutePatternFactory.Parse(template);
        string? path = servicePath;
        var values = new RouteValueDictionary();
        var filled = false;
        // YARP applies path transforms in order; undo them from the last.
        foreach (var transform in (route.Transforms ?? []).Reverse())
        {
            if (transform.TryGetValue("PathPrefix", out var prefix))
            {
                path = path.StartsWith(prefix, StringComparison.Ordinal) ? Rooted(path[prefix.Length..]) : null;
            }
            else if (transform.TryGetValue("PathRemovePrefix", out var removed))
            {
                path = removed.TrimEnd('/') + (path == "/" ? "" : path);
            }
            else if (transform.TryGetValue("PathSet", out var set))
            {
                // Any path the route matches becomes this one: the route's own pattern is the public path.
                path = string.Equals(path, set, StringComparison.Ordinal) ? Fill(pattern, values) : null;
                filled = true;
            }
            else if (transform.TryGetValue("PathPattern", out var target))
            {
                // The values the service path gives the target pattern are the route's values of the same names.
                var targetPattern = RoutePatternFactory.Parse(target);
                var matcher = new TemplateMatcher(new RouteTemplate(targetPattern), new RouteValueDictionary());
                if (matcher.TryMatch(new PathString(path), values))
                {
                    // A catch-all that matched nothing is an empty value, not a parameter left open.
                    foreach (var catchAll in targetPattern.Parameters.Where(p => p.IsCatchAll && values.GetValueOrDefault(p.Name) is null))
                    {
                        values[catchAll.Name] = "";
                    }
                    path = Fill(pattern, values);
                }
                else
                {
                    path = null;
                }
                filled = true;
            }
            if (path is null)
            {
                return null;
            }
        }
        if (!filled)
        {
            var matcher = new TemplateMatcher(new RouteTemplate(pattern), new RouteValueDictionary());
            if (!matcher.TryMatch(new PathString(path), values) || !ConstraintsHold(pattern, values))
            {
                return null;
            }
        }
        return path;
    }

    /// <summary>The route's pattern as an OpenAPI path: constraints dropped, a catch-all as a plain parameter.</summary>
    public static string Template(RouteConfig route) =>
        route.Match.Path is { } template ? Fill(RoutePatternFactory.Parse(template), new RouteValueDictionary()) : "/";

    /// <summary>The names of the parameters left in <see cref="Template"/>.</summary>
    public static IEnumerable<string> Parameters(string openApiPath) =>
        Regex.Matches(openApiPath, @"\{([^}/]+)\}").Select(m => m.Groups[1].Value);

    private static string Fill(RoutePattern pattern, RouteValueDictionary values)
    {
        var text = new StringBuilder();
        foreach (var segment in pattern.PathSegments)
        {
            text.Append('/');
            foreach (var part in segment.Parts)
            {
                switch (part)
                {
                    case RoutePatternLiteralPart literal:
                        text.Append(literal.Content);
                        break;
                    case RoutePatternSeparatorPart separator:
                        text.Append(separator.Content);
                        break;
                    case RoutePatternParameterPart parameter:
                        if (values.TryGetValue(parameter.Name, out var value) && value?.ToString() is { } given)
                        {
                            text.Append(given);
                        }
                        else
                        {
                            text.Append('{').Append(parameter.Name).Append('}');
                        }
                        break;
                }
            }
        }
        var path = text.ToString();
        // An empty catch-all leaves a trailing slash the service's path does not have.
        return path.Length > 1 ? path.TrimEnd('/') : "/";
    }

    /// <summary>
    /// Regex constraints (<c>{action:regex(^(register|token)$)}</c>) must accept a literal segment of the service's path;
    /// a segment that is itself a parameter (<c>{id}</c>) stands for values the service accepts, so it passes.
    /// </summary>
    private static bool ConstraintsHold(RoutePattern pattern, RouteValueDictionary values)
    {
        foreach (var (name, policies) in pattern.ParameterPolicies)
        {
            if (!values.TryGetValue(name, out var value) || value?.ToString() is not { } text || text.StartsWith('{'))
            {
                continue;
            }
            foreach (var policy in policies)
            {
                if (policy.Content is { } content && content.StartsWith("regex(", StringComparison.OrdinalIgnoreCase) && content.EndsWith(')')
                    && !Regex.IsMatch(text, content[6..^1], RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, TimeSpan.FromSeconds(1)))
                {
                    return false;
                }
            }
        }
        return true;
    }

    private static string Rooted(string path) => path.StartsWith('/') ? path : "/" + path;
}
