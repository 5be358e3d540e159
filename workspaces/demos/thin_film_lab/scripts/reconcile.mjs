// Compares the prediction with the robot's measurement (prediction.json, measurement.json):
// relative errors, a rate calibration factor for the process model and the deposition time the
// next run should use to hit the target. Writes results.json.
import { readFileSync, writeFileSync } from 'node:fs';

const prediction = JSON.parse(readFileSync('prediction.json', 'utf8'));
const measurement = JSON.parse(readFileSync('measurement.json', 'utf8'));
const { thickness_nm: target, tolerance } = JSON.parse(readFileSync('target.json', 'utf8'));

const relativeError = (predicted, measured) => (predicted - measured) / measured;
const thicknessError = relativeError(prediction.thickness_nm, measurement.thickness_nm);
const sheetError = relativeError(prediction.sheet_resistance_ohm_sq, measurement.sheet_resistance_ohm_sq);
// Measured / predicted rate at the same power and time: multiply the model's rate by it.
const rateCalibration = measurement.thickness_nm / prediction.thickness_nm;
const correctedTime = Math.round(target / (prediction.rate_nm_s * rateCalibration));

const round = (v, digits) => Number(v.toFixed(digits));
const report = {
  thickness_error_rel: round(thicknessError, 4),
  sheet_resistance_error_rel: round(sheetError, 4),
  rate_calibration: round(rateCalibration, 4),
  corrected_time_s: correctedTime,
  within_tolerance: Math.abs(thicknessError) <= tolerance && Math.abs(sheetError) <= tolerance,
};
writeFileSync('results.json', `${JSON.stringify(report, null, 2)}\n`);
console.log(`thickness off by ${(100 * thicknessError).toFixed(1)} %, sheet resistance by ${(100 * sheetError).toFixed(1)} %; next run: ${correctedTime} s`);
