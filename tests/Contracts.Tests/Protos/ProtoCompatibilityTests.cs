using Google.Api;
using Google.Protobuf.Reflection;
using static Google.Protobuf.Reflection.FieldDescriptorProto.Types;
using Type = Google.Protobuf.Reflection.FieldDescriptorProto.Types.Type;

namespace Portico.Contracts.Tests.Protos;

/// <summary>
/// The comparer over descriptors built in the test: loyalty.proto as compiled, changed one way at a time, linked again by
/// Google.Protobuf. Additions pass; each kind of break is reported naming the element.
/// </summary>
public sealed class ProtoCompatibilityTests
{
    private const string Loyalty = "loyalty/v1/loyalty.proto";

    /// <summary>The compiled files with loyalty.proto changed by <paramref name="change"/>, linked afresh.</summary>
    private static IReadOnlyList<FileDescriptor> Changed(Action<FileDescriptorProto> change)
    {
        var set = ProtoDescriptors.ToSet(ProtoDescriptors.Current());
        change(set.File.Single(file => file.Name == Loyalty));
        return ProtoDescriptors.Load(set);
    }

    private static DescriptorProto Message(FileDescriptorProto file, string name) => file.MessageType.Single(m => m.Name == name);

    private static FieldDescriptorProto Field(FileDescriptorProto file, string message, string name) => Message(file, message).Field.Single(f => f.Name == name);

    private static MethodDescriptorProto Method(FileDescriptorProto file, string name) => file.Service.Single().Method.Single(m => m.Name == name);

    [Fact]
    public void SameDescriptors_AreCompatible()
    {
        Assert.Empty(ProtoCompatibility.BreakingChanges(ProtoDescriptors.Current(), Changed(_ => { })));
    }

    [Fact]
    public void Additions_AreCompatible()
    {
        var added = Changed(file =>
        {
            Message(file, "LedgerEntry").Field.Add(new FieldDescriptorProto { Name = "note", JsonName = "note", Number = 8, Type = Type.String, Label = Label.Optional });
            file.MessageType.Add(new DescriptorProto { Name = "PingReply", Field = { new FieldDescriptorProto { Name = "at", JsonName = "at", Number = 1, Type = Type.Int64, Label = Label.Optional } } });
            file.EnumType.Single(e => e.Name == "EntryKind").Value.Add(new EnumValueDescriptorProto { Name = "ENTRY_KIND_ADJUSTMENT", Number = 3 });
            file.Service.Single().Method.Add(new MethodDescriptorProto { Name = "Ping", InputType = ".loyalty.v1.GetBalanceRequest", OutputType = ".loyalty.v1.PingReply" });
            // A binding where there was none is new REST surface, not a change of it.
            Method(file, "Accrue").Options = new MethodOptions();
            Method(file, "Accrue").Options.SetExtension(AnnotationsExtensions.Http, new HttpRule { Post = "/api/points/accruals", Body = "*" });
            file.Service.Add(new ServiceDescriptorProto { Name = "LoyaltyAdmin", Method = { new MethodDescriptorProto { Name = "Ping", InputType = ".loyalty.v1.GetBalanceRequest", OutputType = ".loyalty.v1.PingReply" } } });
        });
        Assert.Empty(ProtoCompatibility.BreakingChanges(ProtoDescriptors.Current(), added));
    }

    public static TheoryData<string, string> Breaks => new()
    {
        { "remove field", "field loyalty.v1.LedgerEntry.points (4) was removed;" },
        { "renumber field", "field loyalty.v1.AccrueRequest.amount was renumbered from 3 to 9." },
        { "retype field", "field loyalty.v1.Balance.points changed type from int64 to string." },
        { "retype message field", "field loyalty.v1.LedgerEntry.created_at changed type from google.protobuf.Timestamp to loyalty.v1.Balance." },
        { "relabel field", "field loyalty.v1.ListEntriesReply.entries changed label from repeated to singular." },
        { "optional field", "field loyalty.v1.Balance.points changed label from singular to optional." },
        { "rename field", "field loyalty.v1.Balance.user_id (1) was renamed to owner_id; its JSON name changes from userId to ownerId." },
        { "field into oneof", "field loyalty.v1.Balance.points moved from no oneof to oneof amount." },
        { "remove message", "message loyalty.v1.RevertReply was removed." },
        { "remove enum value", "enum value loyalty.v1.EntryKind.ENTRY_KIND_REVERSAL (2) was removed." },
        { "rename enum value", "enum value loyalty.v1.EntryKind.ENTRY_KIND_REVERSAL (2) was renamed to ENTRY_KIND_REFUND." },
        { "remove method", "method loyalty.v1.Loyalty.Revert was removed." },
        { "change request type", "method loyalty.v1.Loyalty.GetBalance changed its request type from loyalty.v1.GetBalanceRequest to loyalty.v1.ListEntriesRequest." },
        { "change response type", "method loyalty.v1.Loyalty.Accrue changed its response type from loyalty.v1.AccrueReply to loyalty.v1.RevertReply." },
        { "stream method", "method loyalty.v1.Loyalty.ListEntries changed streaming from unary to server streaming." },
        { "change http binding", "method loyalty.v1.Loyalty.GetBalance changed its HTTP binding from GET /api/points/balance to GET /api/points/mine." },
        { "remove service", "service loyalty.v1.Loyalty was removed." },
    };

    private static readonly Dictionary<string, Action<FileDescriptorProto>> Changes = new()
    {
        ["remove field"] = file => Message(file, "LedgerEntry").Field.Remove(Field(file, "LedgerEntry", "points")),
        ["renumber field"] = file => Field(file, "AccrueRequest", "amount").Number = 9,
        ["retype field"] = file => Field(file, "Balance", "points").Type = Type.String,
        ["retype message field"] = file => Field(file, "LedgerEntry", "created_at").TypeName = ".loyalty.v1.Balance",
        ["relabel field"] = file => Field(file, "ListEntriesReply", "entries").Label = Label.Optional,
        ["optional field"] = file =>
        {
            // proto3 `optional`: a synthetic oneof of its own, after the real ones.
            Message(file, "Balance").OneofDecl.Add(new OneofDescriptorProto { Name = "_points" });
            Field(file, "Balance", "points").OneofIndex = 0;
            Field(file, "Balance", "points").Proto3Optional = true;
        },
        ["rename field"] = file =>
        {
            Field(file, "Balance", "user_id").Name = "owner_id";
            Field(file, "Balance", "owner_id").JsonName = "ownerId";
        },
        ["field into oneof"] = file =>
        {
            Message(file, "Balance").OneofDecl.Add(new OneofDescriptorProto { Name = "amount" });
            Field(file, "Balance", "points").OneofIndex = 0;
        },
        ["remove message"] = file =>
        {
            file.MessageType.Remove(Message(file, "RevertReply"));
            Method(file, "Revert").OutputType = ".loyalty.v1.AccrueReply";
        },
        ["remove enum value"] = file => file.EnumType.Single(e => e.Name == "EntryKind").Value.RemoveAt(2),
        ["rename enum value"] = file => file.EnumType.Single(e => e.Name == "EntryKind").Value[2].Name = "ENTRY_KIND_REFUND",
        ["remove method"] = file => file.Service.Single().Method.Remove(Method(file, "Revert")),
        ["change request type"] = file => Method(file, "GetBalance").InputType = ".loyalty.v1.ListEntriesRequest",
        ["change response type"] = file => Method(file, "Accrue").OutputType = ".loyalty.v1.RevertReply",
        ["stream method"] = file => Method(file, "ListEntries").ServerStreaming = true,
        ["change http binding"] = file => Method(file, "GetBalance").Options.SetExtension(AnnotationsExtensions.Http, new HttpRule { Get = "/api/points/mine" }),
        ["remove service"] = file => file.Service.Clear(),
    };

    [Theory]
    [MemberData(nameof(Breaks))]
    public void BreakingChange_IsReportedNamingTheElement(string change, string expected)
    {
        var changes = ProtoCompatibility.BreakingChanges(ProtoDescriptors.Current(), Changed(Changes[change]));
        Assert.Contains(changes, c => c.StartsWith(expected, StringComparison.Ordinal));
    }
}
