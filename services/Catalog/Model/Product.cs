namespace Portico.Catalog.Model;

/// <summary>A product in the catalog. Prices are whole Korean won: KRW has no minor unit.</summary>
public sealed class Product
{
    public int Id { get; set; }

    /// <summary>English name.</summary>
    public required string Name { get; set; }

    /// <summary>Korean name.</summary>
    public required string NameKo { get; set; }

    public required string Description { get; set; }

    /// <summary>Price in KRW.</summary>
    public long Price { get; set; }

    public int Stock { get; set; }

    /// <summary>Shown on the home page.</summary>
    public bool Featured { get; set; }
}
