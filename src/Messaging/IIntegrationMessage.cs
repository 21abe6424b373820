namespace Portico.Messaging;

/// <summary>
/// A message that crosses service boundaries: an event (past tense, published to its topic) or a command (sent to a
/// named queue). Its wire name carries its version, e.g. <c>OrderPlaced.v1</c>: a breaking change is a new name, and
/// a consumer ignores fields it does not know.
/// </summary>
public interface IIntegrationMessage
{
    /// <summary>The versioned wire name, e.g. <c>OrderPlaced.v1</c>. Events use it as their topic.</summary>
    static abstract string MessageType { get; }
}
