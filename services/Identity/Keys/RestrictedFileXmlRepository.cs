using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.Repositories;

namespace Portico.Identity.Keys;

/// <summary>
/// The Data Protection key ring as XML files in one directory that only the service's user may enter (0700), each
/// file readable and writable by that user only (0600), written to a temporary name first and then renamed, so a
/// reader never sees half a key. On Windows the modes are not set; the directory's ACL applies.
/// </summary>
internal sealed class RestrictedFileXmlRepository : IXmlRepository
{
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly DirectoryInfo _directory;

    public RestrictedFileXmlRepository(string path)
    {
        _directory = OperatingSystem.IsWindows()
            ? Directory.CreateDirectory(path)
            : Directory.CreateDirectory(path, DirectoryMode);
        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(_directory.FullName) & ~DirectoryMode) != 0)
        {
            // An existing directory that others may read is narrowed, not trusted as it is.
            File.SetUnixFileMode(_directory.FullName, DirectoryMode);
        }
    }

    public IReadOnlyCollection<XElement> GetAllElements() =>
        _directory.EnumerateFiles("*.xml").Select(file =>
        {
            using var stream = file.OpenRead();
            return XElement.Load(stream);
        }).ToList();

    public void StoreElement(XElement element, string friendlyName)
    {
        var name = IsSafeFileName(friendlyName) ? friendlyName : Guid.NewGuid().ToString("N");
        var temporary = Path.Combine(_directory.FullName, Guid.NewGuid().ToString("N") + ".tmp");
        var final = Path.Combine(_directory.FullName, name + ".xml");
        var options = new FileStreamOptions { Mode = System.IO.FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = FileMode;
        }
        using (var stream = new FileStream(temporary, options))
        {
            element.Save(stream);
        }
        File.Move(temporary, final, overwrite: false);
    }

    private static bool IsSafeFileName(string name) =>
        name.Length is > 0 and <= 100 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}
