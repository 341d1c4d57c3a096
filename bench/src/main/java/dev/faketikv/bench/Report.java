package dev.faketikv.bench;

import java.awt.BasicStroke;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/** A results table written as Markdown and CSV, plus line charts as PNG. */
final class Report {
    private final List<String> columns;
    private final List<List<String>> rows = new ArrayList<>();

    Report(List<String> columns) {
        this.columns = columns;
    }

    void add(Object... cells) {
        List<String> r = new ArrayList<>();
        for (Object c : cells) {
            r.add(c instanceof Double d ? String.format(Locale.ROOT, "%.2f", d) : String.valueOf(c));
        }
        rows.add(r);
    }

    String markdown() {
        StringBuilder sb = new StringBuilder("| " + String.join(" | ", columns) + " |\n|");
        columns.forEach(c -> sb.append("---|"));
        sb.append('\n');
        rows.forEach(r -> sb.append("| ").append(String.join(" | ", r)).append(" |\n"));
        return sb.toString();
    }

    String csv() {
        StringBuilder sb = new StringBuilder(String.join(",", columns)).append('\n');
        rows.forEach(r -> sb.append(String.join(",", r)).append('\n'));
        return sb.toString();
    }

    void write(Path dir, String name) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(name + ".md"), markdown());
        Files.writeString(dir.resolve(name + ".csv"), csv());
    }

    /** A line chart: one series per key of {@code series}, each a list of (x, y). */
    static void chart(Path file, String title, String xLabel, String yLabel, Map<String, List<double[]>> series) throws IOException {
        System.setProperty("java.awt.headless", "true");
        XYSeriesCollection data = new XYSeriesCollection();
        series.forEach((name, points) -> {
            XYSeries s = new XYSeries(name);
            points.forEach(p -> s.add(p[0], p[1]));
            data.addSeries(s);
        });
        JFreeChart chart = ChartFactory.createXYLineChart(title, xLabel, yLabel, data, PlotOrientation.VERTICAL, true, false, false);
        for (int i = 0; i < data.getSeriesCount(); i++) {
            chart.getXYPlot().getRenderer().setSeriesStroke(i, new BasicStroke(2f));
        }
        Files.createDirectories(file.getParent());
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 900, 520);
    }

    static Map<String, List<double[]>> series() {
        return new LinkedHashMap<>();
    }
}
