namespace Portico.Catalog.Model;

/// <summary>One page of a list, with what a client needs to ask for the next one.</summary>
public sealed record PaginatedItems<T>(IReadOnlyList<T> Items, int Page, int PageSize, int TotalCount)
{
    public int TotalPages => (int)((TotalCount + (long)PageSize - 1) / PageSize);
}
