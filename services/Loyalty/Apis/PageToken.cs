using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Portico.Loyalty.Apis;

/// <summary>
/// The opaque <c>page_token</c> of ListEntries: where the previous page stopped, bound to the user it listed,
/// so a token cannot be replayed against another user's listing.
/// </summary>
internal static class PageToken
{
    /// <summary>Longest token text this service ever creates: a long, a colon and a user id of 100 UTF-16 characters as UTF-8.</summary>
    private const int MaxTokenBytes = 20 + 1 + (Ledger.LedgerRules.MaxIdLength * 3);

    public static string Create(string userId, long beforeId) =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{beforeId}:{userId}")));

    public static bool TryRead(string token, string userId, out long beforeId)
    {
        beforeId = 0;
        if (token.Length > ((MaxTokenBytes + 2) / 3 * 4))
        {
            return false;
        }
        byte[] bytes;
        try
        {
            bytes = Base64Url.DecodeFromChars(token);
        }
        catch (FormatException)
        {
            return false;
        }
        var text = Encoding.UTF8.GetString(bytes);
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        return colon > 0
            && long.TryParse(text.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out beforeId)
            && beforeId > 0
            && string.Equals(text[(colon + 1)..], userId, StringComparison.Ordinal);
    }
}
