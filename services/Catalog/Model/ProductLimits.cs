namespace Portico.Catalog.Model;

/// <summary>The bounds of a product's fields, shared by the database model and the write API's checks.</summary>
public static class ProductLimits
{
    public const int MaxNameLength = 200;
    public const int MaxDescriptionLength = 2000;

    /// <summary>10 billion KRW: far above anything the shop sells, low enough that a total of many lines stays in range.</summary>
    public const long MaxPrice = 10_000_000_000;

    public const int MaxStock = 10_000_000;
}
