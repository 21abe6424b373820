using System.ComponentModel.DataAnnotations;

namespace Portico.Store;

/// <summary><c>Store</c>: where the embedded Redis-protocol store listens.</summary>
public sealed record StoreOptions
{
    public const string SectionName = "Store";

    [Required]
    public string Bind { get; init; } = "127.0.0.1";

    [Range(0, 65535)]
    public int Port { get; init; } = 6379;

    /// <summary>Memory for the main store, in Garnet's size syntax.</summary>
    [Required]
    public string Memory { get; init; } = "256m";
}
