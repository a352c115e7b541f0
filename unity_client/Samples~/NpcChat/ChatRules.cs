// Plain C# (no UnityEngine): CI compiles it against the package and plays it on .NET
// against a live server (scripts/clients/csharp/e2e/SamplePlay.cs).
//
// The sample game's own rules for what the NPC does: a purse, an inventory, and the
// decision on every tool call the NPC makes.
//
// The server checks a tool call against the tool's schema and the lore (the NPC has the
// item, the quest allows it), but only the game knows the rest: whether the player wanted
// the item, whether they can pay for it, whether the inventory has room. So the game
// decides, and says why when it refuses: the NPC hears the reason
// (SubmitToolResult's error) and the call's status is ToolCallStatus.Failed. Here: an
// item is handed over only if the player asked for it this turn (their line names it,
// or they pressed its button) and can pay its price.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace NpcRuntime.Samples
{
    /// <summary>One thing the game sells: its display name, the words that name it in a player's line, its price in copper.</summary>
    public sealed class CatalogueEntry
    {
        public CatalogueEntry(string name, int price, params string[] words)
        {
            Name = name;
            Price = price;
            Words = words;
        }

        public string Name { get; }
        public int Price { get; }
        public IReadOnlyList<string> Words { get; }
    }

    /// <summary>give_item's arguments: {"item": "room_key", "count": 1}.</summary>
    public readonly struct GiveItem
    {
        public GiveItem(string item, int count)
        {
            Item = item;
            Count = Math.Max(1, count);
        }

        public string Item { get; }

        /// <summary>At least 1 (a missing or broken count means one).</summary>
        public int Count { get; }

        /// <summary>Reads a tool call's arguments_json; a missing or malformed field reads as "" or 1.</summary>
        public static GiveItem Parse(string argumentsJson)
        {
            try
            {
                var fields = Struct.Parser.ParseJson(argumentsJson).Fields;
                var item = fields.TryGetValue("item", out var i) && i.KindCase == Value.KindOneofCase.StringValue ? i.StringValue : "";
                var count = fields.TryGetValue("count", out var c) && c.KindCase == Value.KindOneofCase.NumberValue ? (int)c.NumberValue : 1;
                return new GiveItem(item, count);
            }
            catch (IOException) // InvalidJsonException, InvalidProtocolBufferException
            {
                return new GiveItem("", 1);
            }
        }
    }

    public sealed class ChatRules
    {
        /// <summary>What the game sells (the prices of examples/worlds/harbor/world.yaml).</summary>
        public static readonly IReadOnlyDictionary<string, CatalogueEntry> Catalogue = new Dictionary<string, CatalogueEntry>
        {
            ["room_key"] = new CatalogueEntry("room key", 5, "room key", "key", "room"),
            ["eel_stew"] = new CatalogueEntry("eel stew", 2, "eel stew", "stew", "bowl"),
        };

        readonly List<string> _inventory = new List<string>();
        readonly HashSet<string> _asked = new HashSet<string>(); // item ids the player asked for this turn

        /// <summary>Copper the player carries.</summary>
        public int Purse { get; private set; } = 6;

        /// <summary>Item ids the player carries, one entry per piece.</summary>
        public IReadOnlyList<string> Inventory => _inventory;

        /// <summary>
        /// A new turn: the player says <paramref name="line"/>; <paramref name="forcedItem"/> is
        /// the item of the button they pressed ("" for typed lines). Remembers which items they asked for.
        /// </summary>
        public void BeginTurn(string line, string forcedItem = "")
        {
            _asked.Clear();
            if (forcedItem.Length > 0)
                _asked.Add(forcedItem);
            var words = " " + WordsOf(line) + " ";
            foreach (var entry in Catalogue)
                if (entry.Value.Words.Any(word => words.Contains(" " + word + " ")))
                    _asked.Add(entry.Key);
        }

        /// <summary>
        /// The game's decision on a tool call: "" to run it, or why not (sent to the server as
        /// SubmitToolResult's error). Changes nothing: see <see cref="Run"/>.
        /// </summary>
        public string Refusal(string tool, GiveItem arguments)
        {
            if (tool != "give_item")
                return "this game cannot do " + tool;
            if (!Catalogue.TryGetValue(arguments.Item, out var entry))
                return "the game has no item " + arguments.Item;
            if (!_asked.Contains(arguments.Item))
                return $"the player did not ask for the {entry.Name}";
            var cost = Price(arguments);
            if (cost > Purse)
                return $"the player cannot afford the {entry.Name} ({cost} copper; they have {Purse})";
            return "";
        }

        /// <summary>
        /// Runs an allowed give_item call: the player pays and gets the item. Returns the result
        /// the server is sent (SubmitToolResult's result_json).
        /// </summary>
        public string Run(GiveItem arguments)
        {
            var cost = Price(arguments);
            Purse -= cost;
            for (var i = 0; i < arguments.Count; i++)
                _inventory.Add(arguments.Item);
            _asked.Remove(arguments.Item); // asked once, handed once
            return JsonFormatter.Default.Format(new Struct
            {
                Fields =
                {
                    ["given"] = Value.ForBool(true),
                    ["item"] = Value.ForString(arguments.Item),
                    ["count"] = Value.ForNumber(arguments.Count),
                    ["paid"] = Value.ForNumber(cost),
                },
            });
        }

        /// <summary>
        /// Takes back a call <see cref="Run"/> ran, when the server did not count it (its status
        /// in LineDone.ToolCalls is not Ok, e.g. TimedOut: the game answered too late and the
        /// NPC went on without the item): the player gets the price back and loses the item.
        /// </summary>
        public void Undo(GiveItem arguments)
        {
            Purse += Price(arguments);
            for (var i = 0; i < arguments.Count; i++)
            {
                var at = _inventory.LastIndexOf(arguments.Item);
                if (at >= 0)
                    _inventory.RemoveAt(at);
            }
        }

        /// <summary>What <paramref name="arguments"/> cost: the item's price times the count (0 for what the game does not sell).</summary>
        public static int Price(GiveItem arguments) =>
            Catalogue.TryGetValue(arguments.Item, out var entry) ? entry.Price * arguments.Count : 0;

        /// <summary>The display name of an item (its id when the game does not sell it).</summary>
        public static string NameOf(string item) => Catalogue.TryGetValue(item, out var entry) ? entry.Name : item;

        // The line in lower case, punctuation as spaces, single-spaced.
        static string WordsOf(string line) =>
            string.Join(" ", new string(line.ToLowerInvariant().Select(c => char.IsLetterOrDigit(c) || c == '_' ? c : ' ').ToArray())
                .Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries));
    }
}
