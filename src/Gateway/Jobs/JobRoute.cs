using System.Text.Json;

namespace Portico.Gateway.Jobs;

/// <summary>The type of a job parameter in the gateway file: how its JSON value is checked and passed on.</summary>
public enum JobParameterType
{
    String,

    /// <summary>A calendar date, <c>yyyy-MM-dd</c> (ISO 8601).</summary>
    Date,

    Integer,
    Boolean,
}

/// <summary>One job route, checked, from one version of the gateway file.</summary>
internal sealed record JobRoute(
    string Name, string Method, string Path, string? AuthorizationPolicy, string Queue, int MaxAttempts, TimeSpan Lease,
    long MaxRequestBodySize, IReadOnlyList<JobParameter> Parameters)
{
    public string InQueue => JobsOptions.InQueue(Queue);

    public string OutQueue => JobsOptions.OutQueue(Queue);
}

/// <summary>A parameter of a job's request body, checked before any job is created.</summary>
internal sealed record JobParameter(
    string Name, JobParameterType Type, bool Required, IReadOnlyList<string> Values, JsonElement? Default, string? NotBefore,
    long? Min, long? Max, int MaxLength);

/// <summary>The job routes of one version of the gateway file.</summary>
internal sealed class JobsSettings(IReadOnlyList<JobRoute> routes)
{
    public IReadOnlyList<JobRoute> Routes { get; } = routes;
}

/// <summary>How a job route is written in the gateway file (<c>Portico:Jobs:{name}</c>).</summary>
internal sealed record JobRouteConfig
{
    public string Method { get; init; } = "POST";

    public string? Path { get; init; }

    /// <summary>The job queue (one of the host's <c>Portico:Jobs:Queues</c>).</summary>
    public string? Queue { get; init; }

    /// <summary>As a route's: none means any signed-in user; <c>anonymous</c> is not allowed (a job has an owner).</summary>
    public string? AuthorizationPolicy { get; init; }

    public int? MaxAttempts { get; init; }

    public TimeSpan? Lease { get; init; }

    public long? MaxRequestBodySize { get; init; }

    /// <summary>The request body's fields; any other field is refused.</summary>
    public Dictionary<string, JobParameterConfig> Parameters { get; init; } = new(StringComparer.Ordinal);
}

internal sealed record JobParameterConfig
{
    public JobParameterType Type { get; init; } = JobParameterType.String;

    public bool Required { get; init; }

    /// <summary>The only values allowed (strings).</summary>
    public string[] Values { get; init; } = [];

    /// <summary>The value used when the field is absent.</summary>
    public string? Default { get; init; }

    /// <summary>For a date: another date parameter this one may not be earlier than (a range's end names its start).</summary>
    public string? NotBefore { get; init; }

    /// <summary>For an integer: the smallest and largest values allowed.</summary>
    public long? Min { get; init; }

    public long? Max { get; init; }

    /// <summary>For a string: the longest value allowed.</summary>
    public int MaxLength { get; init; } = 200;
}
