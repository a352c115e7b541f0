// Plain C# (no UnityEngine): CI compiles it against the package and plays it on .NET
// against a live server (scripts/clients/csharp/e2e/SamplePlay.cs).
#nullable enable
namespace NpcRuntime.Samples
{
    /// <summary>Who the sample talks to, and as whom (NPC Dialogue's fields).</summary>
    public sealed class ChatSettings
    {
        public string ServerUrl { get; set; } = "http://127.0.0.1:8080/";
        public string NpcId { get; set; } = "maren";
        public string PlayerName { get; set; } = "";

        /// <summary>Whose quest state it is; "": a fresh player per run ("demo-" and the time).</summary>
        public string PlayerId { get; set; } = "";

        /// <summary>The conversation's x-npc-session; "": the player id.</summary>
        public string AffinityKey { get; set; } = "";
    }
}
