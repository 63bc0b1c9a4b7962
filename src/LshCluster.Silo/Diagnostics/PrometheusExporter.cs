using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace LshCluster.Silo.Diagnostics;

/// <summary>
/// The <c>LshCluster</c> meter in the Prometheus text exposition format (version 0.0.4), served at <c>/metrics</c>.
/// Written here because the OpenTelemetry Prometheus exporter cannot be restored: a MeterListener keeps counter
/// sums, gauge values and cumulative histogram buckets per label set, and a scrape prints them.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    /// <summary>The content type of the exposition.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private static readonly double[] SecondsBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
    private static readonly double[] CountBuckets = [1, 10, 100, 500, 1000, 5000, 10_000, 50_000];
    private static readonly Lazy<PrometheusExporter> SharedExporter = new(() => new PrometheusExporter(LshClusterMetrics.MeterName));

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, Family> _families = new();

    /// <summary>Listens to the meter named <paramref name="meterName"/> from now on.</summary>
    public PrometheusExporter(string meterName)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == meterName)
            {
                _families[instrument] = new Family(instrument);
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    /// <summary>The process-wide exporter of the <c>LshCluster</c> meter.</summary>
    public static PrometheusExporter Shared => SharedExporter.Value;

    /// <summary>Every family as exposition text (gauges read now).</summary>
    public string Scrape()
    {
        _listener.RecordObservableInstruments();
        var text = new StringBuilder();
        foreach (var family in _families.Values.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            family.Write(text);
        }

        return text.ToString();
    }

    /// <inheritdoc />
    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (_families.TryGetValue(instrument, out var family))
        {
            family.Record(value, tags);
        }
    }

    private sealed class Family
    {
        private readonly string _help;
        private readonly string _type;
        private readonly double[]? _bounds;
        private readonly bool _isGauge;
        private readonly SortedDictionary<string, Series> _series = new(StringComparer.Ordinal);

        public Family(Instrument instrument)
        {
            var baseName = Sanitise(instrument.Name) + (instrument.Unit == "s" ? "_seconds" : string.Empty);
            (Name, _type) = instrument switch
            {
                Counter<long> or Counter<int> or Counter<double> or ObservableCounter<long> or ObservableCounter<double> => (baseName + "_total", "counter"),
                Histogram<double> or Histogram<long> or Histogram<int> => (baseName, "histogram"),
                _ => (baseName, "gauge"),
            };
            _isGauge = _type == "gauge";
            _bounds = _type == "histogram" ? (instrument.Unit == "s" ? SecondsBuckets : CountBuckets) : null;
            _help = instrument.Description ?? instrument.Name;
        }

        public string Name { get; }

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var labels = Labels(tags);
            lock (_series)
            {
                if (!_series.TryGetValue(labels, out var series))
                {
                    _series[labels] = series = new Series(_bounds?.Length ?? 0);
                }

                if (_bounds is null)
                {
                    series.Sum = _isGauge ? value : series.Sum + value;
                    return;
                }

                series.Sum += value;
                series.Count++;
                for (var b = 0; b < _bounds.Length; b++)
                {
                    if (value <= _bounds[b])
                    {
                        series.Buckets[b]++;
                    }
                }
            }
        }

        public void Write(StringBuilder text)
        {
            text.Append("# HELP ").Append(Name).Append(' ').Append(_help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)).Append('\n');
            text.Append("# TYPE ").Append(Name).Append(' ').Append(_type).Append('\n');
            lock (_series)
            {
                foreach (var (labels, series) in _series)
                {
                    if (_bounds is null)
                    {
                        Sample(text, Name, labels, null, series.Sum);
                        continue;
                    }

                    for (var b = 0; b < _bounds.Length; b++)
                    {
                        Sample(text, Name + "_bucket", labels, Number(_bounds[b]), series.Buckets[b]);
                    }

                    Sample(text, Name + "_bucket", labels, "+Inf", series.Count);
                    Sample(text, Name + "_sum", labels, null, series.Sum);
                    Sample(text, Name + "_count", labels, null, series.Count);
                }
            }
        }

        private static void Sample(StringBuilder text, string name, string labels, string? le, double value)
        {
            text.Append(name);
            if (labels.Length > 0 || le is not null)
            {
                text.Append('{').Append(labels);
                if (le is not null)
                {
                    text.Append(labels.Length > 0 ? "," : string.Empty).Append("le=\"").Append(le).Append('"');
                }

                text.Append('}');
            }

            text.Append(' ').Append(Number(value)).Append('\n');
        }

        // Labels sorted by name, so that the same tags in any order are one series.
        private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.Length == 0)
            {
                return string.Empty;
            }

            var pairs = new List<(string Name, string Value)>(tags.Length);
            foreach (var tag in tags)
            {
                pairs.Add((Sanitise(tag.Key), Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? string.Empty));
            }

            return string.Join(',', pairs.OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => $"{p.Name}=\"{Escape(p.Value)}\""));
        }

        private static string Escape(string value) =>
            value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

        private static string Number(double value) => value switch
        {
            double.PositiveInfinity => "+Inf",
            double.NegativeInfinity => "-Inf",
            double.NaN => "NaN",
            _ => value.ToString("R", CultureInfo.InvariantCulture),
        };
    }

    // Metric and label names: [a-zA-Z_:][a-zA-Z0-9_:]*; dots and dashes become underscores.
    private static string Sanitise(string name)
    {
        var chars = name.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (!(char.IsAsciiLetterOrDigit(chars[i]) || chars[i] == '_') || (i == 0 && char.IsAsciiDigit(chars[i])))
            {
                chars[i] = '_';
            }
        }

        return new string(chars);
    }

    private sealed class Series(int buckets)
    {
        public double Sum { get; set; }

        public long Count { get; set; }

        public long[] Buckets { get; } = new long[buckets];
    }
}
